package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/**
 * One kind of health check. Implementations run asynchronously, complete within about
 * {@code timeout}, and never complete exceptionally: a failure is a {@link HealthResult#failed} result.
 * {@link #close()} releases threads or clients the checker owns.
 */
public interface HealthChecker extends AutoCloseable {

    CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout);

    /**
     * New settings from a config reload, for the checks that start from now on. A checker that reads
     * something from the settings (the SQL probe's service account) takes it here; a checker that wraps
     * another must pass the call on.
     */
    default void reconfigure(ObserverSettings settings) {
    }

    @Override
    default void close() {
    }
}
