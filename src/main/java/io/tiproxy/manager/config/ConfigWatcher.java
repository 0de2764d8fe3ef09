package io.tiproxy.manager.config;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the config file and hands each new valid snapshot to a listener (in the proxy:
 * {@code ConfigReloader::offer}). It watches the file's directory (editors and Kubernetes replace the
 * file rather than write into it) and also re-reads the file every {@code pollInterval}, since
 * watch events can be lost (network file systems, symlink swaps). A change is read after a short
 * settle delay, so an editor's several writes count as one.
 *
 * <p>The listener is called only when the file's content gives a config different from the last one
 * seen (comments and formatting alone call nothing). A file that does not load is refused with one
 * WARN line naming file, line and key, and the running config stays; the same bad content is not
 * reported again. A missing or unreadable file is reported once, when it stays so for two checks
 * in a row (an editor's rename leaves it missing for a moment).
 *
 * <p>Lifecycle: {@link #start} returns a running watcher with its own daemon thread; {@link #close}
 * stops it. The listener runs on that thread.
 */
public final class ConfigWatcher implements AutoCloseable {
    /** How often the file is re-read when no watch event arrives. */
    public static final Duration DEFAULT_POLL_INTERVAL = Duration.ofSeconds(2);
    private static final Duration SETTLE_DELAY = Duration.ofMillis(150);
    private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

    private final Path file;
    private final Consumer<TiProxyConfig> listener;
    private final Duration pollInterval;
    private final WatchService watchService;
    private final Thread thread;
    private byte[] lastContent;
    private TiProxyConfig lastConfig;
    private String unreadableBecause;
    private boolean unreadableOnce;
    private volatile boolean closed;

    private ConfigWatcher(Path file, TiProxyConfig loaded, Consumer<TiProxyConfig> listener, Duration pollInterval)
            throws IOException {
        this.file = file;
        this.lastConfig = loaded;
        this.listener = listener;
        this.pollInterval = pollInterval;
        this.lastContent = readOrNull();
        this.watchService = file.getFileSystem().newWatchService();
        directory().register(watchService, StandardWatchEventKinds.ENTRY_CREATE,
                StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_DELETE);
        this.thread = new Thread(this::run, "tiproxy-config-watcher");
        this.thread.setDaemon(true);
    }

    /**
     * Starts watching.
     *
     * @param file         the config file the proxy was started with
     * @param loaded       the config read from it at start-up (the listener hears only of changes from it)
     * @param listener     receives each new valid config
     * @param pollInterval how often to re-read the file anyway ({@link #DEFAULT_POLL_INTERVAL})
     * @throws IOException when the file's directory cannot be watched
     */
    public static ConfigWatcher start(Path file, TiProxyConfig loaded, Consumer<TiProxyConfig> listener,
                                      Duration pollInterval) throws IOException {
        ConfigWatcher watcher = new ConfigWatcher(file.toAbsolutePath().normalize(),
                Objects.requireNonNull(loaded, "loaded"), Objects.requireNonNull(listener, "listener"), pollInterval);
        watcher.thread.start();
        log.info("watching config file {} (re-read every {} ms as well)", file, pollInterval.toMillis());
        return watcher;
    }

    private Path directory() {
        Path parent = file.getParent();
        return parent != null ? parent : Path.of(".").toAbsolutePath();
    }

    private void run() {
        while (!closed) {
            try {
                WatchKey key = watchService.poll(pollInterval.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    // any event in the directory may be ours (renames, symlink swaps): settle, drain, then look
                    key.pollEvents();
                    key.reset();
                    Thread.sleep(SETTLE_DELAY.toMillis());
                    drainEvents();
                }
                check();
            } catch (ClosedWatchServiceException | InterruptedException e) {
                return; // closed
            } catch (RuntimeException e) {
                log.error("config watcher failed to check {}; will try again", file, e);
            }
        }
    }

    private void drainEvents() {
        WatchKey key;
        while ((key = watchService.poll()) != null) {
            key.pollEvents();
            key.reset();
        }
    }

    /** Reads the file; when its content changed, loads it and tells the listener of a new config. */
    private void check() {
        byte[] content = readOrNull();
        if (content == null) {
            if (unreadableOnce && lastContent != null) {
                log.warn("config file {} cannot be read ({}); keeping the running config", file, unreadableBecause);
                lastContent = null;
            }
            unreadableOnce = true;
            return;
        }
        unreadableOnce = false;
        if (Arrays.equals(content, lastContent)) {
            return;
        }
        lastContent = content;
        TiProxyConfig config;
        try {
            config = ConfigLoader.parse(new String(content, java.nio.charset.StandardCharsets.UTF_8), file.toString());
        } catch (ConfigException e) {
            log.warn("config file refused, keeping the running config: {}", e.getMessage());
            return;
        }
        if (config.equals(lastConfig)) {
            log.debug("config file {} changed but gives the same config", file);
            return;
        }
        lastConfig = config;
        listener.accept(config);
    }

    private byte[] readOrNull() {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            unreadableBecause = "it is missing";
            return null;
        } catch (IOException e) {
            unreadableBecause = e.toString();
            return null;
        }
    }

    /** Stops watching; waits for the watcher thread (and a listener call in progress) to end. */
    @Override
    public void close() {
        closed = true;
        try {
            watchService.close();
        } catch (IOException e) {
            log.debug("closing the watch service of {}: {}", file, e.toString());
        }
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
