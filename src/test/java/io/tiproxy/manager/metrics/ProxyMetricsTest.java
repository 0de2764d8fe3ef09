package io.tiproxy.manager.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiproxy.manager.config.HostPort;
import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.server.api.HttpApiServer;
import io.tiproxy.server.api.MetricsRoute;
import io.tiproxy.testkit.PrometheusServer;
import io.tiproxy.testkit.Promtool;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ProxyMetricsTest {
    private static final String B1 = "127.0.0.1:4001";
    private static final String B2 = "127.0.0.1:4002";
    private static final long MS = 1_000_000L;
    /** The only lint promtool may report: these two names are TiProxy's, kept for its dashboards. */
    private static final List<String> TIPROXY_NAMES_PROMTOOL_DISLIKES = List.of(
            "tiproxy_backend_b_status metric names should not contain abbreviated units",
            "tiproxy_balance_b_conn metric names should not contain abbreviated units");

    private final Map<String, Integer> sessions = new ConcurrentHashMap<>(Map.of(B1, 1, B2, 0));
    private final Map<String, Boolean> healthy = new ConcurrentHashMap<>(Map.of(B1, true, B2, false));
    private ProxyMetrics metrics;

    @BeforeEach
    void recordKnownEvents() {
        metrics = new ProxyMetrics(() -> Map.copyOf(sessions), () -> Map.copyOf(healthy));
        for (int i = 0; i < 3; i++) {
            metrics.connectionOpened();
        }
        metrics.connectionClosed(ErrorSource.CLIENT_QUIT);
        metrics.connectionClosed(ErrorSource.BACKEND_NETWORK);
        metrics.handshakeDone(B1, 2 * MS);
        metrics.queryDone(Command.COM_QUERY, B1, MS);
        metrics.queryDone(Command.COM_QUERY, B1, MS);
        metrics.queryDone(Command.COM_QUERY, B1, 3 * MS);
        metrics.queryDone(Command.COM_STMT_EXECUTE, B2, 10 * MS);
        metrics.traffic(B1, 1000, 200);
        metrics.traffic(B1, 24, 0);
        metrics.migrated(B1, B2, "status", true, 12);
        metrics.migrated(B1, B2, "status", false, 3000);
        metrics.healthCheckCycle(250 * MS);
        metrics.backendPing(B2, 5 * MS);
    }

    @AfterEach
    void close() {
        metrics.close();
    }

    @Test
    void scrapeIsValidForPromtoolAndUsesTiProxyNames() {
        String text = metrics.scrape();

        Promtool.Result check = Promtool.checkMetrics(text);
        assertThat(check.exitCode()).as(check.output()).isIn(0, 3);
        assertThat(check.findings()).as("promtool lint").isSubsetOf(TIPROXY_NAMES_PROMTOOL_DISLIKES);
        assertThat(text).contains(
                "# TYPE tiproxy_server_connections gauge",
                "# TYPE tiproxy_server_create_connection_total counter",
                "# TYPE tiproxy_server_disconnection_total counter",
                "# TYPE tiproxy_session_query_total counter",
                "# TYPE tiproxy_session_query_duration_seconds histogram",
                "# TYPE tiproxy_session_handshake_duration_seconds histogram",
                "# TYPE tiproxy_balance_b_conn gauge",
                "# TYPE tiproxy_balance_migrate_total counter",
                "# TYPE tiproxy_balance_migrate_duration_seconds histogram",
                "# TYPE tiproxy_backend_b_status gauge",
                "# TYPE tiproxy_backend_health_check_seconds gauge",
                "# TYPE tiproxy_backend_ping_duration_seconds gauge",
                "# TYPE tiproxy_traffic_inbound_bytes gauge",
                "# TYPE tiproxy_traffic_outbound_bytes gauge",
                "# TYPE process_cpu_seconds_total counter",
                "# TYPE jvm_memory_used_bytes gauge");
    }

    @Test
    void prometheusScrapesTheRouteAndReadsTheKnownValues() throws Exception {
        try (HttpApiServer api = new HttpApiServer(new HostPort("127.0.0.1", 0), List.of(new MetricsRoute(metrics::scrape)))) {
            api.start();
            String target = "127.0.0.1:" + api.localAddress().getPort();
            HttpResponse<String> direct = HttpClient.newHttpClient().send(
                    HttpRequest.newBuilder(URI.create("http://" + target + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(direct.statusCode()).isEqualTo(200);
            assertThat(direct.headers().firstValue("content-type")).hasValue("text/plain; version=0.0.4; charset=utf-8");

            try (PrometheusServer prometheus = PrometheusServer.start("metrics-test", List.of(target))) {
                var targets = prometheus.awaitFreshScrape();
                assertThat(targets.get(0).path("health").asText()).as(targets.toString()).isEqualTo("up");
                assertThat(targets.get(0).path("lastError").asText()).isEmpty();
                assertValue(prometheus, "tiproxy_server_connections", 1);
                assertValue(prometheus, "tiproxy_server_create_connection_total", 3);
                assertValue(prometheus, "tiproxy_server_disconnection_total{type=\"success\"}", 1);
                assertValue(prometheus, "tiproxy_server_disconnection_total{type=\"backend network break\"}", 1);
                assertValue(prometheus, "tiproxy_server_disconnection_total{type=\"proxy shutdown\"}", 0);
                assertValue(prometheus, "tiproxy_session_query_total{backend=\"" + B1 + "\",cmd_type=\"Query\"}", 3);
                assertValue(prometheus, "tiproxy_session_query_total{backend=\"" + B2 + "\",cmd_type=\"StmtExecute\"}", 1);
                assertValue(prometheus, "tiproxy_session_query_duration_seconds_bucket{backend=\"" + B1
                        + "\",cmd_type=\"Query\",le=\"0.001\"}", 2);
                assertValue(prometheus, "tiproxy_session_query_duration_seconds_bucket{backend=\"" + B1
                        + "\",cmd_type=\"Query\",le=\"0.004\"}", 3);
                assertValue(prometheus, "tiproxy_session_query_duration_seconds_sum{backend=\"" + B1
                        + "\",cmd_type=\"Query\"}", 0.005);
                assertValue(prometheus, "tiproxy_session_handshake_duration_seconds_count{backend=\"" + B1 + "\"}", 1);
                assertValue(prometheus, "tiproxy_traffic_inbound_bytes{backend=\"" + B1 + "\"}", 1024);
                assertValue(prometheus, "tiproxy_traffic_outbound_bytes{backend=\"" + B1 + "\"}", 200);
                assertValue(prometheus, "tiproxy_balance_b_conn{backend=\"" + B1 + "\"}", 1);
                assertValue(prometheus, "tiproxy_backend_b_status{backend=\"" + B2 + "\"}", 0);
                assertValue(prometheus, "tiproxy_balance_migrate_total{from=\"" + B1 + "\",to=\"" + B2
                        + "\",reason=\"status\",migrate_res=\"succeed\"}", 1);
                assertValue(prometheus, "tiproxy_balance_migrate_total{migrate_res=\"fail\"}", 1);
                assertValue(prometheus, "tiproxy_balance_migrate_duration_seconds_sum{migrate_res=\"fail\"}", 3.0);
                assertValue(prometheus, "tiproxy_backend_health_check_seconds", 0.25);
                assertValue(prometheus, "tiproxy_backend_ping_duration_seconds{backend=\"" + B2 + "\"}", 0.005);
                // the dashboard's p99 query runs (rate() over a single scrape has no value yet)
                prometheus.query("histogram_quantile(0.99, sum(rate(tiproxy_session_query_duration_seconds_bucket[1m])) by (le))");
            }
        }
    }

    private static void assertValue(PrometheusServer prometheus, String promql, double expected) {
        assertThat(prometheus.query(promql)).as(promql).hasValue(expected);
    }

    @Test
    void perQueryUpdatesAllocateNothingOnceABackendIsKnown() {
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled()).isTrue();
        long thread = Thread.currentThread().getId();
        for (int i = 0; i < 20_000; i++) {
            recordOneQuery();
        }
        long before = threads.getThreadAllocatedBytes(thread);
        for (int i = 0; i < 100_000; i++) {
            recordOneQuery();
        }
        long allocated = threads.getThreadAllocatedBytes(thread) - before;
        // one object per update would be >= 1.6 MB; a few KB come from Micrometer's occasional window rotation
        assertThat(allocated).as("bytes allocated by 100k query/traffic/connection updates").isLessThan(64 * 1024);
    }

    private void recordOneQuery() {
        metrics.connectionOpened();
        metrics.queryDone(Command.COM_QUERY, B1, 2 * MS);
        metrics.traffic(B1, 100, 50);
        metrics.connectionClosed(ErrorSource.CLIENT_QUIT);
    }

    @Test
    void aRemovedBackendLeavesNoSeries() {
        sessions.remove(B2);
        healthy.remove(B2);
        metrics.backendRemoved(B2);

        String text = metrics.scrape();

        assertThat(text).doesNotContain(B2).contains("tiproxy_session_query_total{backend=\"" + B1 + "\",cmd_type=\"Query\"} 3");
        metrics.queryDone(Command.COM_PING, B2, MS);
        assertThat(metrics.scrape()).contains("tiproxy_session_query_total{backend=\"" + B2 + "\",cmd_type=\"Ping\"} 1");
    }
}
