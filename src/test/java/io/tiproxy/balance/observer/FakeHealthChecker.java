package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/** Answers each check with the result set for the backend (healthy unless told otherwise), at once. */
final class FakeHealthChecker implements HealthChecker {
    private final Map<String, HealthResult> results = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    volatile boolean closed;
    /** The settings of the last {@link #reconfigure} call, or null. */
    volatile ObserverSettings reconfigured;

    void answer(String address, HealthResult result) {
        results.put(address, result);
    }

    int calls(String address) {
        return calls.computeIfAbsent(address, a -> new AtomicInteger()).get();
    }

    @Override
    public CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout) {
        calls.computeIfAbsent(backend.address(), a -> new AtomicInteger()).incrementAndGet();
        return CompletableFuture.completedFuture(results.getOrDefault(backend.address(), HealthResult.ok()));
    }

    @Override
    public void reconfigure(ObserverSettings settings) {
        reconfigured = settings;
    }

    @Override
    public void close() {
        closed = true;
    }
}
