package io.tiproxy.balance.observer;

import io.tiproxy.discovery.BackendSource;
import io.tiproxy.discovery.DiscoveredBackend;

import java.util.LinkedHashMap;
import java.util.Map;

/** A hand-driven {@link BackendSource}: {@link #set} delivers a new backend set on the caller's thread. */
final class FakeBackendSource implements BackendSource {
    private Listener listener;
    private Map<String, DiscoveredBackend> current = Map.of();
    volatile boolean closed;

    @Override
    public synchronized void start(Listener listener) {
        this.listener = listener;
        listener.onBackends(current);
    }

    synchronized void set(String... addresses) {
        Map<String, DiscoveredBackend> next = new LinkedHashMap<>();
        for (String a : addresses) {
            next.put(a, DiscoveredBackend.ofAddress(a));
        }
        set(next);
    }

    synchronized void set(Map<String, DiscoveredBackend> next) {
        current = Map.copyOf(next);
        if (listener != null) {
            listener.onBackends(current);
        }
    }

    @Override
    public synchronized Map<String, DiscoveredBackend> current() {
        return current;
    }

    @Override
    public void close() {
        closed = true;
    }
}
