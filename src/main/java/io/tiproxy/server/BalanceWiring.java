package io.tiproxy.server;

import io.tiproxy.balance.BackendRouter;
import io.tiproxy.balance.BalanceSettings;
import io.tiproxy.balance.FactorOrder;
import io.tiproxy.manager.config.BalanceConfig;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.manager.metrics.ProxyMetrics;

import java.time.Duration;
import java.util.List;

/**
 * Translates the config's {@code balance} section into the router's {@link BalanceSettings}, and the
 * router's state into metric rows, so that neither the balance package nor the metrics know the other.
 */
final class BalanceWiring {
    private BalanceWiring() {
    }

    static BalanceSettings settingsOf(BalanceConfig c) {
        FactorOrder order = switch (c.policy()) {
            case RESOURCE -> FactorOrder.RESOURCE;
            case LOCATION -> FactorOrder.LOCATION;
            case CONNECTION -> FactorOrder.CONNECTION;
        };
        return new BalanceSettings(order, c.maxConcurrentMigrations(), c.status().migrationsPerSecond(),
                c.location().zone(), c.location().migrationsPerSecond(), c.load().sampleInterval(),
                c.load().busyThreads(), c.load().ratioPercent() / 100.0, c.load().migrationsPerSecond(),
                c.connCount().countRatioPercent() / 100.0, c.connCount().minGap(), c.connCount().migrationsPerSecond());
    }

    /** How often to sample backend load under {@code config}: zero when the policy ignores load. */
    static Duration loadSampleInterval(TiProxyConfig config) {
        BalanceSettings s = settingsOf(config.balance());
        return s.order().usesLoad() ? s.loadSampleInterval() : Duration.ZERO;
    }

    /** tiproxy_balance_pending_migrate rows from the router's migrations in flight. */
    static List<ProxyMetrics.PendingMigration> pendingOf(BackendRouter router) {
        return router.pendingMigrations().stream()
                .map(p -> new ProxyMetrics.PendingMigration(p.from(), p.to(), p.reason(), p.count())).toList();
    }
}
