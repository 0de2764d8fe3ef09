package io.tiproxy.manager.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.testkit.PrometheusServer;
import io.tiproxy.testkit.Promtool;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The shipped Grafana dashboard and Prometheus alert rules: valid for Prometheus' own tools, and
 * about metrics the proxy really exports.
 */
class MonitoringAssetsTest {
    private static final Path DASHBOARD = Path.of("deploy/grafana/tiproxy-java.json");
    private static final Path ALERTS = Path.of("deploy/prometheus/alerts.yml");
    private static final Path ALERTS_TEST = Path.of("deploy/prometheus/alerts_test.yml");
    private static final Pattern METRIC = Pattern.compile("\\b(?:tiproxy|process|jvm)_[a-z0-9_]+");

    @Test
    void alertRulesPassPromtoolsCheckAndTheirUnitTests() {
        Promtool.Result check = Promtool.checkRules(ALERTS);
        assertThat(check.exitCode()).as(check.output()).isZero();

        Promtool.Result test = Promtool.testRules(ALERTS_TEST);
        assertThat(test.exitCode()).as(test.output()).isZero();
        assertThat(test.output()).contains("SUCCESS");
    }

    @Test
    void dashboardAndAlertsUseOnlyMetricsTheProxyExports() throws Exception {
        String exported = scrapeWithEverySeries();
        Set<String> used = new TreeSet<>();
        dashboardExpressions().forEach(expr -> used.addAll(metricNames(expr)));
        alertExpressions().forEach(expr -> used.addAll(metricNames(expr)));

        assertThat(used).contains("tiproxy_server_connections", "tiproxy_session_query_total",
                "tiproxy_balance_migrate_total", "tiproxy_backend_health_check_seconds");
        for (String name : used) {
            assertThat(exported).as("exported metrics").containsPattern("(?m)^" + name + "[{ ]");
        }
    }

    @Test
    void everyDashboardQueryRunsOnARealPrometheus() throws Exception {
        try (PrometheusServer prometheus = PrometheusServer.start("dashboard-test", List.of())) {
            for (String expr : dashboardExpressions()) {
                String runnable = expr.replace("$__rate_interval", "1m").replace("$instance", ".*");
                prometheus.query(runnable); // throws on a 4xx (a syntax error) with Prometheus' message
            }
        }
    }

    @Test
    void dashboardIsImportable() throws Exception {
        JsonNode dashboard = new ObjectMapper().readTree(DASHBOARD.toFile());

        assertThat(dashboard.path("uid").asText()).isEqualTo("tiproxy-java");
        assertThat(dashboard.path("__inputs").get(0).path("name").asText()).isEqualTo("DS_PROMETHEUS");
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode panel : dashboard.path("panels")) {
            assertThat(ids.add(panel.path("id").asInt())).as("unique panel id " + panel.path("id")).isTrue();
            assertThat(panel.path("gridPos").path("w").asInt()).isBetween(1, 24);
        }
    }

    private static List<String> dashboardExpressions() throws Exception {
        List<String> expressions = new ArrayList<>();
        for (JsonNode panel : new ObjectMapper().readTree(DASHBOARD.toFile()).path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                expressions.add(target.path("expr").asText());
            }
        }
        assertThat(expressions).hasSizeGreaterThan(10);
        return expressions;
    }

    private static List<String> alertExpressions() throws Exception {
        List<String> expressions = new ArrayList<>();
        for (JsonNode group : new YAMLMapper().readTree(Files.readString(ALERTS)).path("groups")) {
            for (JsonNode rule : group.path("rules")) {
                expressions.add(rule.path("expr").asText());
            }
        }
        return expressions;
    }

    private static Set<String> metricNames(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher m = METRIC.matcher(expr);
        while (m.find()) {
            names.add(m.group());
        }
        return names;
    }

    /** A scrape in which every series of the proxy exists at least once. */
    private static String scrapeWithEverySeries() {
        try (ProxyMetrics metrics = new ProxyMetrics(() -> Map.of("b:1", 1), () -> Map.of("b:1", true))) {
            metrics.connectionOpened();
            metrics.connectionClosed(ErrorSource.CLIENT_QUIT);
            metrics.handshakeDone("b:1", 1_000_000);
            metrics.queryDone(Command.COM_QUERY, "b:1", 1_000_000);
            metrics.traffic("b:1", 10, 10);
            metrics.migrated("b:1", "b:2", "status", true, 5);
            metrics.healthCheckCycle(1_000_000);
            metrics.backendPing("b:1", 1_000_000);
            return metrics.scrape();
        }
    }
}
