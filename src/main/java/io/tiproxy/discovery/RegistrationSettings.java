package io.tiproxy.discovery;

import java.time.Duration;
import java.util.Objects;

/**
 * What {@link TopologyRegistrar} keeps alive and how.
 *
 * @param paths           component and keyspace ({@code tiproxy} for the proxy itself, {@code tidb} for backends)
 * @param address         {@code ip:port} of the member's SQL port; the key segment
 * @param info            the {@code info} value
 * @param leaseTtl        lease of the {@code ttl} key: it vanishes this long after the last keep-alive (TiDB: 45 s)
 * @param refreshInterval how often {@code info} and {@code ttl} are written again (TiDB: 30 s)
 * @param requestTimeout  bound on each etcd request
 */
public record RegistrationSettings(TopologyPaths paths, String address, TopologyInfo info, Duration leaseTtl,
                                   Duration refreshInterval, Duration requestTimeout) {

    public static final Duration DEFAULT_LEASE_TTL = Duration.ofSeconds(45);
    public static final Duration DEFAULT_REFRESH_INTERVAL = Duration.ofSeconds(30);
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofSeconds(3);

    public RegistrationSettings {
        Objects.requireNonNull(paths, "paths");
        DiscoveredBackend.ofAddress(address); // validates host:port
        Objects.requireNonNull(info, "info");
        EtcdTopologySettings.requirePositive(refreshInterval, "refreshInterval");
        EtcdTopologySettings.requirePositive(requestTimeout, "requestTimeout");
        if (leaseTtl.toSeconds() < 2) {
            throw new IllegalArgumentException("leaseTtl must be at least 2 s (etcd's minimum), got " + leaseTtl);
        }
    }

    /** TiDB's timing: a 45 s lease, rewritten every 30 s, 3 s per request. */
    public static RegistrationSettings of(TopologyPaths paths, String address, TopologyInfo info) {
        return new RegistrationSettings(paths, address, info, DEFAULT_LEASE_TTL, DEFAULT_REFRESH_INTERVAL,
                DEFAULT_REQUEST_TIMEOUT);
    }

    /** How often the lease is kept alive: a third of its TTL, at most the refresh interval. */
    public Duration keepAliveInterval() {
        Duration third = leaseTtl.dividedBy(3);
        return third.compareTo(refreshInterval) < 0 ? third : refreshInterval;
    }
}
