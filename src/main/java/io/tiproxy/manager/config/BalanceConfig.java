package io.tiproxy.manager.config;

/**
 * The {@code balance} section: how sessions are spread over backends and moved to keep them even.
 *
 * @param minGap            fewest sessions between the fullest and the emptiest backend worth a migration
 * @param maxMovesPerSecond most sessions the rebalancer migrates per second
 */
public record BalanceConfig(int minGap, int maxMovesPerSecond) {

    /** The values used when the file does not set them. */
    public static BalanceConfig defaults() {
        return new BalanceConfig(3, 20);
    }
}
