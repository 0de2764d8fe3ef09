package io.tiproxy.manager.metrics;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;

/** The balance router's scores and migrations in flight, under TiProxy's metric names and labels. */
class BalanceMetricsTest {
    private static final String B1 = "127.0.0.1:4001";
    private static final String B2 = "127.0.0.1:4002";

    @Test
    void scoresPerFactorAndPendingMigrationsAreExportedAndFollowTheRouter() {
        AtomicReference<Map<String, Map<String, Integer>>> scores = new AtomicReference<>(Map.of(
                B1, Map.of("status", 0, "conn", 12),
                B2, Map.of("status", 1, "conn", 3)));
        AtomicReference<List<ProxyMetrics.PendingMigration>> pending = new AtomicReference<>(List.of(
                new ProxyMetrics.PendingMigration(B2, B1, "status", 2)));
        try (ProxyMetrics metrics = new ProxyMetrics(Map::of, Map::of, scores::get, pending::get)) {
            String text = metrics.scrape();
            assertThat(text).contains("# TYPE tiproxy_balance_b_score gauge")
                    .contains("tiproxy_balance_b_score{backend=\"" + B1 + "\",factor=\"conn\"} 12.0")
                    .contains("tiproxy_balance_b_score{backend=\"" + B2 + "\",factor=\"status\"} 1.0")
                    .contains("# TYPE tiproxy_balance_pending_migrate gauge")
                    .contains("tiproxy_balance_pending_migrate{from=\"" + B2 + "\",reason=\"status\",to=\"" + B1 + "\"} 2.0");

            scores.set(Map.of(B1, Map.of("status", 0, "conn", 15)));
            pending.set(List.of());
            text = metrics.scrape();
            assertThat(text).contains("tiproxy_balance_b_score{backend=\"" + B1 + "\",factor=\"conn\"} 15.0")
                    .doesNotContain("backend=\"" + B2 + "\",factor=")
                    .doesNotContain("tiproxy_balance_pending_migrate{");
        }
    }
}
