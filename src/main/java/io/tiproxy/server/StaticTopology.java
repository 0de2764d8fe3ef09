package io.tiproxy.server;

import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;

import java.time.Instant;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/** The static backend list with operator drains, published to the router as backend states. */
final class StaticTopology implements ProxyRoutes.Drainer {
    private final List<String> backends;
    private final Set<String> drained = new HashSet<>();
    private final Map<String, Instant> since = new LinkedHashMap<>();
    private final Consumer<Map<String, BackendInfo>> sink;

    StaticTopology(List<String> backends, List<String> failBackendList, Consumer<Map<String, BackendInfo>> sink) {
        this.backends = List.copyOf(backends);
        this.drained.addAll(failBackendList);
        this.sink = sink;
        backends.forEach(b -> since.put(b, Instant.now()));
    }

    synchronized void publish() {
        Map<String, BackendInfo> snapshot = new LinkedHashMap<>();
        for (String b : backends) {
            boolean d = drained.contains(b);
            snapshot.put(b, new BackendInfo(b, d ? BackendState.DRAINING : BackendState.HEALTHY,
                    d ? "drained by operator" : "", 0, Map.of(), since.get(b)));
        }
        sink.accept(snapshot);
    }

    @Override
    public synchronized boolean drain(String addr, String reason) {
        if (!backends.contains(addr)) {
            return false;
        }
        if (drained.add(addr)) {
            since.put(addr, Instant.now());
        }
        publish();
        return true;
    }

    @Override
    public synchronized boolean undrain(String addr) {
        if (!backends.contains(addr)) {
            return false;
        }
        if (drained.remove(addr)) {
            since.put(addr, Instant.now());
        }
        publish();
        return true;
    }
}
