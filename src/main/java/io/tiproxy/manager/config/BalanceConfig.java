package io.tiproxy.manager.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The {@code balance} section: how new sessions are spread and how existing ones are moved (after
 * TiProxy's {@code balance}: a policy of ordered factors, each with its own migration rate). Every key
 * is hot-reloadable, from the next rebalancing round. Rates are whole migrations per second (this
 * config format has no fractions); ratios are percentages.
 *
 * @param policy                  which factors decide, in which order
 * @param maxConcurrentMigrations most sessions asked to move and not yet moved, over all factors
 * @param status                  sessions leaving draining, unhealthy and removed backends
 * @param location                sessions preferring backends in this proxy's zone
 * @param load                    sessions leaving busy backends
 * @param connCount               sessions evening out session counts
 */
public record BalanceConfig(BalancePolicy policy, int maxConcurrentMigrations, Status status, Location location,
                            Load load, ConnCount connCount) {

    public BalanceConfig {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(load, "load");
        Objects.requireNonNull(connCount, "connCount");
    }

    /** @param migrationsPerSecond 0: automatic (a leaving backend's sessions over 1 s, at least 10 a second) */
    public record Status(int migrationsPerSecond) {}

    /**
     * @param zone                this proxy's zone; backends whose topology label {@code zone} differs are
     *                            remote. Empty: all backends are local
     * @param migrationsPerSecond sessions moved from remote to local backends per second; 0: none
     */
    public record Location(String zone, int migrationsPerSecond) {
        public Location {
            Objects.requireNonNull(zone, "zone");
        }
    }

    /**
     * @param sampleInterval      how often each backend's {@code Threads_running} is read with
     *                            {@code backend.service-user}; 0 (or no service user): never, load is neutral
     * @param busyThreads         running statements from which a backend counts as busy
     * @param ratioPercent        a busy backend sheds sessions to one whose load + 1 is this many percent lower
     * @param migrationsPerSecond sessions moved for load per second; 0: none
     */
    public record Load(Duration sampleInterval, int busyThreads, int ratioPercent, int migrationsPerSecond) {
        public Load {
            Objects.requireNonNull(sampleInterval, "sampleInterval");
        }
    }

    /**
     * @param countRatioPercent   sessions move when a backend holds more than this percent of (another's count + 1)
     * @param minGap              ... and at least this many sessions more than it
     * @param migrationsPerSecond sessions moved to even out counts per second; 0: none
     */
    public record ConnCount(int countRatioPercent, int minGap, int migrationsPerSecond) {}

    /** The values used when the file does not set them (conf/proxy.yaml shows them). */
    public static BalanceConfig defaults() {
        return new BalanceConfig(BalancePolicy.LOCATION, 32, new Status(0), new Location("", 1),
                new Load(Duration.ofSeconds(2), 8, 200, 2), new ConnCount(120, 3, 10));
    }
}
