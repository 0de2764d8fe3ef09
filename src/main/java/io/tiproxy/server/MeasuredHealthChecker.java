package io.tiproxy.server;

import io.tiproxy.balance.observer.HealthChecker;
import io.tiproxy.balance.observer.HealthResult;
import io.tiproxy.balance.observer.ObserverSettings;
import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.manager.metrics.ProxyMetrics;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

/** Times every health check into the metrics (tiproxy_backend_ping_duration_seconds, health_check_seconds). */
final class MeasuredHealthChecker implements HealthChecker {
    private final HealthChecker delegate;
    private final ProxyMetrics metrics;

    MeasuredHealthChecker(HealthChecker delegate, ProxyMetrics metrics) {
        this.delegate = delegate;
        this.metrics = metrics;
    }

    @Override
    public CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout) {
        long start = System.nanoTime();
        return delegate.check(backend, timeout).whenComplete((r, e) -> {
            long nanos = System.nanoTime() - start;
            metrics.backendPing(backend.address(), nanos);
            metrics.healthCheckCycle(nanos);
        });
    }

    @Override
    public void reconfigure(ObserverSettings settings) {
        delegate.reconfigure(settings);
    }

    @Override
    public void close() {
        delegate.close();
    }
}
