package io.tiproxy.discovery;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The backend list from the config file ({@code proxy.backends}). {@link #update(Collection)} takes
 * a reloaded list and delivers it at once when it differs. Deliveries happen on the caller's thread
 * (of {@link #start} or {@link #update}), serialised by this object's lock.
 */
public final class StaticBackendSource implements BackendSource {
    private Map<String, DiscoveredBackend> backends;
    private Listener listener;
    private boolean closed;

    /** @param addresses {@code host:port} of each backend; duplicates count once */
    public StaticBackendSource(Collection<String> addresses) {
        this.backends = toMap(addresses);
    }

    @Override
    public synchronized void start(Listener listener) {
        if (this.listener != null) {
            throw new IllegalStateException("already started");
        }
        this.listener = Objects.requireNonNull(listener, "listener");
        listener.onBackends(backends);
    }

    /** Replaces the list (config reload); delivers it if it changed and the source is started. */
    public synchronized void update(Collection<String> addresses) {
        Map<String, DiscoveredBackend> next = toMap(addresses);
        if (next.equals(backends)) {
            return;
        }
        backends = next;
        if (listener != null && !closed) {
            listener.onBackends(next);
        }
    }

    @Override
    public synchronized Map<String, DiscoveredBackend> current() {
        return backends;
    }

    @Override
    public synchronized void close() {
        closed = true;
    }

    private static Map<String, DiscoveredBackend> toMap(Collection<String> addresses) {
        Map<String, DiscoveredBackend> map = new LinkedHashMap<>();
        for (String address : addresses) {
            String a = address.strip();
            map.putIfAbsent(a, DiscoveredBackend.ofAddress(a));
        }
        return java.util.Collections.unmodifiableMap(map);
    }
}
