package io.tiproxy.discovery;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The keys under one topology prefix as last read or watched, and the backends they describe: a
 * member is alive while its {@code ttl} key exists; its {@code info} JSON, when present and valid,
 * adds status port, labels and version. Not thread-safe (owned by one source thread).
 */
final class TopologyModel {
    private static final Logger log = LoggerFactory.getLogger(TopologyModel.class);

    private final TopologyPaths paths;
    private final ObjectMapper json;
    private final Map<String, String> infos = new HashMap<>();
    private final Set<String> alive = new HashSet<>();
    /** Members whose bad info was already logged, so a bad value is reported once. */
    private final Set<String> badInfoLogged = new HashSet<>();

    TopologyModel(TopologyPaths paths, ObjectMapper json) {
        this.paths = paths;
        this.json = json;
    }

    void replaceAll(Map<String, String> kvs) {
        infos.clear();
        alive.clear();
        kvs.forEach(this::put);
    }

    void put(String key, String value) {
        paths.parse(key).ifPresent(k -> {
            switch (k.kind()) {
                case INFO -> infos.put(k.address(), value);
                case TTL -> alive.add(k.address());
            }
        });
    }

    void remove(String key) {
        paths.parse(key).ifPresent(k -> {
            switch (k.kind()) {
                case INFO -> infos.remove(k.address());
                case TTL -> alive.remove(k.address());
            }
        });
    }

    /** Alive members, sorted by address. */
    Map<String, DiscoveredBackend> backends() {
        Map<String, DiscoveredBackend> out = new TreeMap<>();
        for (String address : alive) {
            DiscoveredBackend backend = describe(address);
            if (backend != null) {
                out.put(address, backend);
            }
        }
        return Collections.unmodifiableMap(out);
    }

    private DiscoveredBackend describe(String address) {
        DiscoveredBackend bare;
        try {
            bare = DiscoveredBackend.ofAddress(address);
        } catch (IllegalArgumentException e) {
            logOnce(address, "its key does not name host:port; ignoring it");
            return null;
        }
        String info = infos.get(address);
        if (info == null) {
            return bare;
        }
        try {
            TopologyInfo parsed = TopologyInfo.fromJson(json, info);
            badInfoLogged.remove(address);
            return new DiscoveredBackend(address, parsed.statusPort(), parsed.labels(), parsed.version());
        } catch (IllegalArgumentException e) {
            logOnce(address, "unusable info (" + e.getMessage() + "); using its address only");
            return bare;
        }
    }

    private void logOnce(String address, String what) {
        if (badInfoLogged.add(address)) {
            log.warn("etcd topology: member {}: {}", address, what);
        }
    }
}
