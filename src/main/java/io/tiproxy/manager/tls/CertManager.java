package io.tiproxy.manager.tls;

import io.tiproxy.manager.config.SecurityConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Owns the proxy's TLS contexts (TiProxy's {@code CertManager}): one {@link ReloadableTlsContext} per
 * {@code security} section, and the thread that re-reads their files when they change on disk, so a
 * renewed certificate is served without a restart or a config change. TiProxy reloads on a timer; here
 * a cheap file check (time, size, identity) every {@link #DEFAULT_CHECK_INTERVAL} decides, and the
 * rebuild happens on that thread, never on an event loop.
 */
public final class CertManager implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CertManager.class);

    /** How often the files are looked at; a settled change is in use within about twice this. */
    public static final Duration DEFAULT_CHECK_INTERVAL = Duration.ofSeconds(2);

    private final ReloadableTlsContext serverTls;
    private final ReloadableTlsContext sqlTls;
    private final ReloadableTlsContext serverHttpTls;
    private final Duration checkInterval;
    private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
    private ScheduledExecutorService checker;

    /** Builds every configured context; throws when a section's files do not load. */
    public CertManager(SecurityConfig security, Duration checkInterval) throws SSLException {
        this.serverTls = new ReloadableTlsContext("security.server-tls", ReloadableTlsContext.Role.SERVER,
                security.serverTls());
        this.sqlTls = new ReloadableTlsContext("security.sql-tls", ReloadableTlsContext.Role.CLIENT, security.sqlTls());
        this.serverHttpTls = new ReloadableTlsContext("security.server-http-tls", ReloadableTlsContext.Role.SERVER,
                security.serverHttpTls());
        this.checkInterval = checkInterval;
    }

    /** Client -> proxy SQL connections. */
    public ReloadableTlsContext serverTls() {
        return serverTls;
    }

    /** Proxy -> backend SQL connections. */
    public ReloadableTlsContext sqlTls() {
        return sqlTls;
    }

    /** The HTTP API and /metrics listener. */
    public ReloadableTlsContext serverHttpTls() {
        return serverHttpTls;
    }

    /** Runs {@code listener} (on the checking thread) after files on disk changed a context. */
    public void onReload(Runnable listener) {
        listeners.add(listener);
    }

    /** Starts looking at the files every check interval. */
    public synchronized void start() {
        if (checker != null) {
            return;
        }
        checker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tiproxy-cert-check");
            t.setDaemon(true);
            return t;
        });
        long millis = Math.max(1, checkInterval.toMillis());
        checker.scheduleWithFixedDelay(this::checkFiles, millis, millis, TimeUnit.MILLISECONDS);
    }

    /** One round of file checks; a failure in one section does not stop the others. */
    void checkFiles() {
        boolean changed = false;
        for (ReloadableTlsContext context : List.of(serverTls, sqlTls, serverHttpTls)) {
            try {
                changed |= context.checkFiles();
            } catch (RuntimeException e) {
                log.error("{}: checking the certificate files failed", context.keyPath(), e);
            }
        }
        if (changed) {
            for (Runnable listener : listeners) {
                listener.run();
            }
        }
    }

    /**
     * Prepares the contexts of a reloaded {@code security} section without using them yet; throws,
     * changing nothing, when any section's files do not load. {@link Staged#commit()} puts them in use.
     */
    public Staged stage(SecurityConfig next) throws SSLException {
        return new Staged(serverTls.prepare(next.serverTls()), sqlTls.prepare(next.sqlTls()),
                serverHttpTls.prepare(next.serverHttpTls()));
    }

    /** Contexts built for a reloaded config, not in use until {@link #commit()}. */
    public final class Staged {
        private final ReloadableTlsContext.Loaded server;
        private final ReloadableTlsContext.Loaded sql;
        private final ReloadableTlsContext.Loaded http;

        private Staged(ReloadableTlsContext.Loaded server, ReloadableTlsContext.Loaded sql,
                       ReloadableTlsContext.Loaded http) {
            this.server = server;
            this.sql = sql;
            this.http = http;
        }

        public void commit() {
            serverTls.install(server);
            sqlTls.install(sql);
            serverHttpTls.install(http);
        }
    }

    @Override
    public synchronized void close() {
        if (checker != null) {
            checker.shutdownNow();
            checker = null;
        }
    }
}
