package io.tiproxy.discovery;

import java.time.Duration;
import java.util.Objects;

/**
 * How {@link EtcdTopologySource} reads PD's etcd.
 *
 * @param keyspace         keyspace name, or empty for the default tree ({@code /topology/tidb/})
 * @param fullReadInterval how often the whole prefix is read again to heal missed watch events; while
 *                         etcd is unreachable the source retries every {@code min(1 s, fullReadInterval)}
 * @param requestTimeout   bound on each etcd request
 */
public record EtcdTopologySettings(String keyspace, Duration fullReadInterval, Duration requestTimeout) {

    public EtcdTopologySettings {
        Objects.requireNonNull(keyspace, "keyspace");
        requirePositive(fullReadInterval, "fullReadInterval");
        requirePositive(requestTimeout, "requestTimeout");
    }

    /** No keyspace, a full read every 10 s, 3 s per request. */
    public static EtcdTopologySettings defaults() {
        return new EtcdTopologySettings("", Duration.ofSeconds(10), Duration.ofSeconds(3));
    }

    public EtcdTopologySettings withKeyspace(String keyspace) {
        return new EtcdTopologySettings(keyspace, fullReadInterval, requestTimeout);
    }

    public EtcdTopologySettings withFullReadInterval(Duration interval) {
        return new EtcdTopologySettings(keyspace, interval, requestTimeout);
    }

    /** The delay between attempts while etcd is unreachable. */
    public Duration retryInterval() {
        Duration second = Duration.ofSeconds(1);
        return fullReadInterval.compareTo(second) < 0 ? fullReadInterval : second;
    }

    static void requirePositive(Duration d, String name) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be positive, got " + d);
        }
    }
}
