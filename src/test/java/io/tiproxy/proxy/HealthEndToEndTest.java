package io.tiproxy.proxy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Health checks drive routing end to end, on real MariaDB servers: a backend hung with SIGSTOP is found
 * within the configured window and avoided, and {@code health-check.*} reloaded through the API takes
 * effect without a restart (ReloadableKeys: "from each backend's next check").
 */
class HealthEndToEndTest {
    static MariaDbCluster cluster;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.startNew("health-e2e", 2);
    }

    @AfterAll
    static void stop() {
        cluster.close();
    }

    static String checks(String interval, String timeout, int fail, int recover) {
        return "health-check:\n  interval: \"" + interval + "\"\n  timeout: \"" + timeout + "\"\n  fail-threshold: "
                + fail + "\n  recover-threshold: " + recover + "\n";
    }

    static BackendState state(TestProxy proxy, MariaDbServer s) {
        BackendInfo info = proxy.server().observer().snapshot().get(s.address());
        return info == null ? null : info.state();
    }

    static long newSessionServerId(TestProxy proxy) throws SQLException {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER,
                TestAccounts.APP_PASSWORD); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** {@code SELECT @@server_id, @i}. */
    static long[] serverIdAndVariable(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@server_id, @i")) {
            rs.next();
            return new long[] {rs.getLong(1), rs.getLong(2)};
        }
    }

    @Test
    void aHungBackendIsUnhealthyWithinTheConfiguredWindowAndSessionsAvoidIt() throws Exception {
        MariaDbServer hung = cluster.server(0);
        MariaDbServer alive = cluster.server(1);
        Duration interval = Duration.ofMillis(500);
        Duration timeout = Duration.ofMillis(500);
        int fail = 2;
        try (TestProxy proxy = TestProxy.start(cluster.addresses(), "",
                TestProxy.SERVICE_ACCOUNT + checks("500ms", "500ms", fail, 1))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> state(proxy, hung) == BackendState.HEALTHY
                    && state(proxy, alive) == BackendState.HEALTHY);
            // idle sessions with state, spread over both (a socket timeout: a query must never hang the test)
            List<Connection> idle = new ArrayList<>();
            int onHung = 0;
            for (int i = 0; i < 4; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl("socketTimeout=20000"),
                        TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                c.createStatement().execute("SET @i = " + i);
                onHung += serverIdAndVariable(c)[0] == hung.serverId() ? 1 : 0;
                idle.add(c);
            }
            assertThat(onHung).as("idle sessions on the backend about to hang").isPositive();
            StatefulSessions onAlive = null;
            hung.sigstop();
            long stopped = System.nanoTime();
            try {
                // window: the checks of `fail` intervals, the last one timing out
                Duration window = interval.multipliedBy(fail).plus(timeout);
                Duration slack = Duration.ofSeconds(3); // scheduling on a busy 2-core host
                await().atMost(window.plus(slack).plusSeconds(10)).pollInterval(Duration.ofMillis(50))
                        .until(() -> state(proxy, hung) == BackendState.UNHEALTHY);
                long millis = (System.nanoTime() - stopped) / 1_000_000;
                assertThat(millis).as("UNHEALTHY within interval x fail-threshold + timeout (+ slack)")
                        .isLessThanOrEqualTo(window.plus(slack).toMillis());
                assertThat(proxy.server().observer().snapshot().get(hung.address()).reason()).contains("timed out");
                assertThat(proxy.api("GET", "/api/backends").body()).contains("unhealthy");

                for (int i = 0; i < 6; i++) {
                    assertThat(newSessionServerId(proxy)).as("new sessions avoid the hung backend")
                            .isEqualTo(alive.serverId());
                }
                // the idle ones on it move away with their state (the proxy holds the state; the hung server
                // is not asked for anything)
                await().atMost(Duration.ofSeconds(15))
                        .until(() -> proxy.server().router().sessionCount(hung.address()) == 0);
                for (int i = 0; i < idle.size(); i++) {
                    assertThat(serverIdAndVariable(idle.get(i))).containsExactly(alive.serverId(), i);
                }
                onAlive = StatefulSessions.start(proxy, 4, Duration.ofMillis(20));
                onAlive.awaitProgress(40, Duration.ofSeconds(30));
                assertThat(onAlive.serverIds()).containsOnly((long) alive.serverId());
            } finally {
                hung.sigcont();
                if (onAlive != null) {
                    onAlive.stop();
                }
            }
            assertThat(onAlive.errors()).isEmpty();
            await().atMost(Duration.ofSeconds(20)).until(() -> state(proxy, hung) == BackendState.HEALTHY);
            for (Connection c : idle) {
                c.close();
            }
        }
    }

    @Test
    void reloadedHealthCheckSettingsTakeEffectFromTheNextCheck() throws Exception {
        MariaDbServer target = cluster.server(0);
        MariaDbServer other = cluster.server(1);
        // one check at discovery, the next an hour later
        try (TestProxy proxy = TestProxy.start(cluster.addresses(), "",
                TestProxy.SERVICE_ACCOUNT + checks("1h", "500ms", 1, 1))) {
            await().atMost(Duration.ofSeconds(10)).until(() -> state(proxy, target) == BackendState.HEALTHY
                    && state(proxy, other) == BackendState.HEALTHY);
            target.sigstop();
            try {
                Thread.sleep(2000); // nothing checks it: the hour is not over
                assertThat(state(proxy, target)).as("under the old interval").isEqualTo(BackendState.HEALTHY);

                reload(proxy, Map.of("interval", "200ms", "recover-threshold", 1000));
                assertThat(proxy.server().observer().settings().interval()).isEqualTo(Duration.ofMillis(200));
                await().atMost(Duration.ofSeconds(15)).until(() -> state(proxy, target) == BackendState.UNHEALTHY);
            } finally {
                target.sigcont();
            }
            // it answers again, but the reloaded recover threshold wants 1000 good checks in a row
            try (Connection direct = target.rootConnection()) {
                assertThat(direct.isValid(5)).isTrue();
            }
            Thread.sleep(3000); // ~15 good checks at 200 ms
            assertThat(state(proxy, target)).as("recover-threshold 1000").isEqualTo(BackendState.UNHEALTHY);

            reload(proxy, Map.of("recover-threshold", 1));
            await().atMost(Duration.ofSeconds(10)).until(() -> state(proxy, target) == BackendState.HEALTHY);
        }
    }

    /** PUTs the running config back through the API with some health-check keys changed. */
    static void reload(TestProxy proxy, Map<String, Object> healthCheck) throws Exception {
        YAMLMapper yaml = new YAMLMapper();
        ObjectNode config = (ObjectNode) yaml.readTree(proxy.api("GET", "/api/admin/config?format=yaml").body());
        ObjectNode section = (ObjectNode) config.get("health-check");
        healthCheck.forEach((key, value) -> section.set(key, yaml.valueToTree(value)));
        HttpResponse<String> response = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + proxy.apiPort() + "/api/admin/config"))
                .PUT(HttpRequest.BodyPublishers.ofString(yaml.writeValueAsString(config))).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(response.body()).contains("health-check.");
    }
}
