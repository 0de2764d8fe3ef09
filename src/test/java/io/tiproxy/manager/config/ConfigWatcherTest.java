package io.tiproxy.manager.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import io.tiproxy.testkit.LogCapture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigWatcherTest {
    private static final Duration POLL = Duration.ofMillis(300);

    @TempDir
    Path dir;

    private final List<TiProxyConfig> heard = new CopyOnWriteArrayList<>();
    private ConfigWatcher watcher;

    @AfterEach
    void stop() {
        if (watcher != null) {
            watcher.close();
        }
    }

    private static String config(int maxConnections, String comment) {
        return "# " + comment + "\nproxy:\n  max-connections: " + maxConnections + "\nlog:\n  level: info\n";
    }

    private Path startWatching(String content) throws Exception {
        Path file = dir.resolve("proxy.yaml");
        Files.writeString(file, content);
        watcher = ConfigWatcher.start(file, ConfigLoader.load(file), heard::add, POLL);
        return file;
    }

    @Test
    void aChangedFileIsHandedOnOnce() throws Exception {
        Path file = startWatching(config(10, "start"));

        Files.writeString(file, config(20, "start"));

        await().atMost(Duration.ofSeconds(5)).until(() -> heard.size() == 1);
        assertThat(heard.get(0).proxy().maxConnections()).isEqualTo(20);
        Thread.sleep(3 * POLL.toMillis());
        assertThat(heard).hasSize(1);
    }

    @Test
    void commentsAndFormattingAloneHandNothingOn() throws Exception {
        Path file = startWatching(config(10, "start"));

        Files.writeString(file, config(10, "only a new comment") + "\n\n");

        Thread.sleep(4 * POLL.toMillis());
        assertThat(heard).isEmpty();
    }

    @Test
    void aFileReplacedByRenameIsNoticed() throws Exception {
        Path file = startWatching(config(10, "start"));
        Path temp = dir.resolve(".proxy.yaml.swp");

        Files.writeString(temp, config(30, "editor"));
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        await().atMost(Duration.ofSeconds(5)).until(() -> heard.size() == 1);
        assertThat(heard.get(0).proxy().maxConnections()).isEqualTo(30);
    }

    @Test
    void aBadFileIsRefusedWithOneWarningNamingFileAndLineAndTheNextGoodOneApplies() throws Exception {
        try (LogCapture logs = LogCapture.of(ConfigWatcher.class)) {
            Path file = startWatching(config(10, "start"));

            Files.writeString(file, "# bad\nproxy:\n  max-conections: 20\n");

            await().atMost(Duration.ofSeconds(5)).until(() -> !logs.messages(Level.WARN).isEmpty());
            Thread.sleep(4 * POLL.toMillis());
            assertThat(heard).isEmpty();
            assertThat(logs.messages(Level.WARN)).singleElement().asString()
                    .contains(file + ":3: proxy.max-conections: unknown key")
                    .contains("keeping the running config");

            Files.writeString(file, config(40, "fixed"));
            await().atMost(Duration.ofSeconds(5)).until(() -> heard.size() == 1);
            assertThat(heard.get(0).proxy().maxConnections()).isEqualTo(40);
        }
    }

    @Test
    void aMissingFileIsReportedOnceAndItsReturnIsNoticed() throws Exception {
        try (LogCapture logs = LogCapture.of(ConfigWatcher.class)) {
            Path file = startWatching(config(10, "start"));

            Files.delete(file);
            await().atMost(Duration.ofSeconds(5)).until(() -> !logs.messages(Level.WARN).isEmpty());
            Thread.sleep(4 * POLL.toMillis());
            assertThat(logs.messages(Level.WARN)).singleElement().asString().contains("it is missing");

            Files.writeString(file, config(50, "back"));
            await().atMost(Duration.ofSeconds(5)).until(() -> heard.size() == 1);
            assertThat(heard.get(0).proxy().maxConnections()).isEqualTo(50);
        }
    }

    @Test
    void closeStopsWatching() throws Exception {
        Path file = startWatching(config(10, "start"));

        watcher.close();
        Files.writeString(file, config(60, "after close"));

        Thread.sleep(4 * POLL.toMillis());
        assertThat(heard).isEmpty();
    }
}
