package io.tiproxy.balance.observer;

import java.time.Instant;
import java.util.Map;

/**
 * One backend as the observer sees it now.
 *
 * @param address    "host:port" of the SQL port; the key everywhere in the proxy
 * @param state      what the proxy may do with it
 * @param reason     why it is in that state (health check error, "drained by operator", ...); empty when healthy
 * @param statusPort TiDB status port from the topology, or 0
 * @param labels     topology labels (zone, ...), empty for static backends
 * @param since      when it entered this state
 */
public record BackendInfo(String address, BackendState state, String reason, int statusPort,
                          Map<String, String> labels, Instant since) {
    public BackendInfo {
        labels = Map.copyOf(labels);
    }
}
