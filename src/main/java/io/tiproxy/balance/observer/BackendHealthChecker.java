package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The standard check: the {@link SqlPortProbe} and, for backends with a TiDB status port, then the
 * {@link TiDbStatusProbe}, both within one timeout. Owns a small pool of daemon threads (the SQL probe
 * blocks one per backend being checked); {@link #close()} stops it.
 */
public final class BackendHealthChecker implements HealthChecker {
    /** Threads for probes: enough to check several hung backends at once without starving the rest. */
    public static final int DEFAULT_THREADS = 4;

    private final ExecutorService pool;
    private final SqlPortProbe sqlProbe;
    private final TiDbStatusProbe statusProbe;

    /** Service account from {@code settings}, {@value #DEFAULT_THREADS} threads, default source address. */
    public BackendHealthChecker(ObserverSettings settings) {
        this(settings, DEFAULT_THREADS, null);
    }

    /**
     * @param threads       size of the probe pool
     * @param sourceAddress local address the SQL probe connects from, or null
     */
    public BackendHealthChecker(ObserverSettings settings, int threads, InetAddress sourceAddress) {
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "health-check-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.sqlProbe = new SqlPortProbe(settings.serviceUser(), settings.servicePassword(), sourceAddress, pool);
        this.statusProbe = new TiDbStatusProbe(pool);
    }

    @Override
    public CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        return sqlProbe.check(backend, timeout).thenCompose(sql -> {
            if (!sql.healthy() || !backend.hasStatusPort()) {
                return CompletableFuture.completedFuture(sql);
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return CompletableFuture.completedFuture(HealthResult.failed("health check timed out before the status port"));
            }
            return statusProbe.check(backend, Duration.ofNanos(left))
                    .thenApply(status -> status.healthy() ? sql : status);
        });
    }

    /** Takes the service account of {@code settings} for the SQL probes that start from now on. */
    @Override
    public void reconfigure(ObserverSettings settings) {
        sqlProbe.reconfigure(settings);
    }

    @Override
    public void close() {
        pool.shutdownNow();
    }
}
