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

    @Override
    default void close() {
    }
}
