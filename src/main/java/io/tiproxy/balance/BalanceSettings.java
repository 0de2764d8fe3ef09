package io.tiproxy.balance;

import java.time.Duration;
import java.util.Objects;

/**
 * How the router balances, as one immutable snapshot (from the config's {@code balance} section); a new
 * snapshot takes effect from the next rebalancing round. Rates are migrations per second; a rate of 0
 * stops that factor from migrating (it still steers new sessions), except {@link #statusRate} where 0
 * means "automatic".
 *
 * @param order                   which factors, in which order
 * @param maxConcurrentMigrations most sessions asked to move and not yet moved, over all factors
 * @param statusRate              sessions leaving draining/unhealthy/removed backends per second; 0: the
 *                                sessions such a backend held when it left, over 5 s, at least 10 a second
 * @param zone                    this proxy's zone; backends whose topology label {@code zone} differs are
 *                                remote. Empty: every backend is local (the location factor is neutral)
 * @param locationRate            sessions moved from remote to local backends per second
 * @param loadSampleInterval      how often backend load is sampled; 0: never (the load factor is neutral)
 * @param loadBusyThreads         running threads from which a backend counts as busy
 * @param loadRatio               a busy backend sheds sessions to one whose load, plus one, is this many times lower
 * @param loadRate                sessions moved for load per second
 * @param connRatio               sessions move when a backend holds more than this times (the other's count + 1)
 * @param connMinGap              ... and at least this many sessions more than the other
 * @param connRate                sessions moved for session count per second
 */
public record BalanceSettings(FactorOrder order, int maxConcurrentMigrations, double statusRate, String zone,
                              double locationRate, Duration loadSampleInterval, double loadBusyThreads,
                              double loadRatio, double loadRate, double connRatio, int connMinGap, double connRate) {

    public BalanceSettings {
        Objects.requireNonNull(order, "order");
        Objects.requireNonNull(zone, "zone");
        Objects.requireNonNull(loadSampleInterval, "loadSampleInterval");
        if (maxConcurrentMigrations < 1) {
            throw new IllegalArgumentException("maxConcurrentMigrations must be at least 1, got " + maxConcurrentMigrations);
        }
        if (statusRate < 0 || locationRate < 0 || loadRate < 0 || connRate < 0) {
            throw new IllegalArgumentException("migration rates must not be negative");
        }
        if (loadRatio <= 1 || connRatio <= 1) {
            throw new IllegalArgumentException("ratios must be above 1, got load " + loadRatio + ", conn " + connRatio);
        }
        if (connMinGap < 2) {
            throw new IllegalArgumentException("connMinGap must be at least 2, got " + connMinGap);
        }
    }

    /** The values of the config's defaults (conf/proxy.yaml documents them). */
    public static BalanceSettings defaults() {
        return new BalanceSettings(FactorOrder.LOCATION, 32, 0, "", 1, Duration.ofSeconds(2), 8, 2.0, 2, 1.2, 3, 10);
    }

    /** The same settings with another factor order. */
    public BalanceSettings withOrder(FactorOrder next) {
        return new BalanceSettings(next, maxConcurrentMigrations, statusRate, zone, locationRate, loadSampleInterval,
                loadBusyThreads, loadRatio, loadRate, connRatio, connMinGap, connRate);
    }

    /** The same settings with this proxy in {@code nextZone}. */
    public BalanceSettings withZone(String nextZone) {
        return new BalanceSettings(order, maxConcurrentMigrations, statusRate, nextZone, locationRate, loadSampleInterval,
                loadBusyThreads, loadRatio, loadRate, connRatio, connMinGap, connRate);
    }

    /** How old a load sample may be before the load factor stops trusting it. */
    Duration loadStaleAfter() {
        Duration three = loadSampleInterval.multipliedBy(3);
        return three.compareTo(Duration.ofSeconds(5)) < 0 ? Duration.ofSeconds(5) : three;
    }
}
