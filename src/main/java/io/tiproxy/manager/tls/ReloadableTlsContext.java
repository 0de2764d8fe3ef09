package io.tiproxy.manager.tls;

import io.netty.handler.ssl.SslContext;
import io.tiproxy.manager.config.TlsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.util.List;

/**
 * The TLS context of one {@code security.*-tls} section, kept current without a restart: when its
 * certificate, key or CA files change on disk (same paths) the context is rebuilt, and new connections
 * get the new one from {@link #current()}; established connections keep the context they started with.
 *
 * <p>{@link CertManager} calls {@link #checkFiles()} every few seconds from its own thread (never an
 * event loop). A change is loaded once the files have stayed the same for one more check, so a renewal
 * caught while it writes the key after the certificate is not mistaken for a broken one. Files that do
 * not load (unreadable, not PEM, a key that does not belong to the certificate) leave the previous
 * context in use and are reported once, in one error line, until they change again.
 */
public final class ReloadableTlsContext {
    private static final Logger log = LoggerFactory.getLogger(ReloadableTlsContext.class);

    /** Which end of TLS the proxy is with this context. */
    public enum Role { SERVER, CLIENT }

    /** A built context and the config and files it was built from. */
    record Loaded(TlsConfig config, SslContext context, FileStamps stamps) {
    }

    private final String keyPath;
    private final Role role;
    private volatile Loaded loaded;
    /** Changed files seen by the last check, loaded if the next check sees them unchanged. */
    private FileStamps settling;
    /** Files that failed to load, already reported. */
    private FileStamps reported;

    /** Builds the first context; throws when the configured files do not load. */
    ReloadableTlsContext(String keyPath, Role role, TlsConfig config) throws SSLException {
        this.keyPath = keyPath;
        this.role = role;
        this.loaded = prepare(config);
    }

    /** The context for a new connection, or null when this side has no TLS configured. */
    public SslContext current() {
        return loaded.context();
    }

    /** The config key this context comes from, e.g. {@code security.server-tls}. */
    public String keyPath() {
        return keyPath;
    }

    /**
     * Builds the context for {@code config} without installing it (a config reload checks every section
     * before it changes any). An unchanged config whose files are unchanged reuses the current context.
     */
    Loaded prepare(TlsConfig config) throws SSLException {
        Loaded current = loaded;
        FileStamps stamps = FileStamps.of(paths(config));
        if (current != null && current.config().equals(config) && current.stamps().equals(stamps)) {
            return current;
        }
        try {
            return new Loaded(config, build(config), stamps);
        } catch (RuntimeException e) {
            throw new SSLException(keyPath + ": " + e.getMessage(), e);
        }
    }

    synchronized void install(Loaded next) {
        loaded = next;
        settling = null;
        reported = null;
    }

    /** Reloads when the files changed and have settled; true when a new context was installed. */
    synchronized boolean checkFiles() {
        Loaded current = loaded;
        if (current.context() == null) {
            return false;
        }
        FileStamps now = FileStamps.of(paths(current.config()));
        if (now.equals(current.stamps())) {
            settling = null;
            return false;
        }
        if (!now.equals(settling)) {
            settling = now;
            return false;
        }
        if (now.equals(reported)) {
            return false;
        }
        SslContext next;
        try {
            next = build(current.config());
        } catch (SSLException | RuntimeException e) {
            reported = now;
            log.error("{}: the changed certificate files ({}) do not load: {}; new connections keep the previous "
                    + "certificate until the files are fixed", keyPath, files(current.config()), e.getMessage());
            return false;
        }
        loaded = new Loaded(current.config(), next, now);
        settling = null;
        reported = null;
        log.info("{}: reloaded the changed certificate files ({}); new connections use them", keyPath,
                files(current.config()));
        return true;
    }

    private SslContext build(TlsConfig config) throws SSLException {
        return role == Role.SERVER ? TlsContexts.forServer(config) : TlsContexts.forClient(config);
    }

    private List<String> paths(TlsConfig config) {
        boolean used = role == Role.SERVER ? config.enabledAsServer() : config.enabledAsClient();
        return used ? List.of(config.cert(), config.key(), config.ca()) : List.of();
    }

    private static String files(TlsConfig config) {
        return String.join(", ", List.of(config.cert(), config.key(), config.ca()).stream()
                .filter(p -> !p.isEmpty()).toList());
    }

    @Override
    public String toString() {
        return keyPath + (loaded.context() == null ? " (off)" : " (" + files(loaded.config()) + ")");
    }
}
