package io.tiproxy.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Graceful shutdown, hot reload and /metrics on a real proxy in front of real MariaDB servers. */
class OperationsProxyTest {
    @TempDir
    Path dir;

    private static Connection connect(TestProxy proxy) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    @Test
    void shutdownLetsTransactionsCommitThenClosesSessionsCleanly() throws Exception {
        MariaDbServer backend = MariaDbCluster.shared().server(0);
        backend.execAsAdmin("CREATE TABLE IF NOT EXISTS test.shutdown_t (id INT PRIMARY KEY)",
                "DELETE FROM test.shutdown_t");
        TestProxy proxy = TestProxy.start(List.of(backend.address()),
                "  graceful-wait-before-shutdown: 1\n  graceful-close-conn-timeout: 4\n", "");
        try (Connection idle = connect(proxy); Connection committing = connect(proxy); Connection stuck = connect(proxy)) {
            committing.setAutoCommit(false);
            committing.createStatement().execute("INSERT INTO shutdown_t VALUES (1)");
            stuck.setAutoCommit(false);
            stuck.createStatement().execute("INSERT INTO shutdown_t VALUES (100)");

            CompletableFuture<Void> shutdown = CompletableFuture.runAsync(proxy::close);
            await().atMost(Duration.ofSeconds(5)).until(() -> proxy.api("GET", "/api/debug/health").status() == 503);
            // still accepting during graceful-wait-before-shutdown, yet the transaction goes on
            committing.createStatement().execute("INSERT INTO shutdown_t VALUES (2)");
            Thread.sleep(1500); // past the wait: the listener is closed now
            assertThatThrownBy(() -> connect(proxy)).isInstanceOf(SQLException.class);
            committing.createStatement().execute("INSERT INTO shutdown_t VALUES (3)");
            committing.commit();

            assertThatThrownBy(() -> committing.createStatement().executeQuery("SELECT 1"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("Proxy is shutting down");
            assertThatThrownBy(() -> idle.createStatement().executeQuery("SELECT 1"))
                    .isInstanceOf(SQLException.class).hasMessageContaining("Proxy is shutting down");
            shutdown.get();
            assertThatThrownBy(() -> stuck.createStatement().executeQuery("SELECT 1")).isInstanceOf(SQLException.class);
        }
        try (Connection direct = backend.rootConnection(); Statement st = direct.createStatement();
             ResultSet rs = st.executeQuery("SELECT GROUP_CONCAT(id ORDER BY id) FROM test.shutdown_t")) {
            rs.next();
            assertThat(rs.getString(1)).as("committed rows kept, the cut-off transaction rolled back").isEqualTo("1,2,3");
        }
    }

    @Test
    void aChangedConfigFileIsAppliedWithoutRestartAndABadOneIsRefused() throws Exception {
        List<String> backends = MariaDbCluster.shared().addresses();
        Path file = dir.resolve("proxy.yaml");
        String yaml = "proxy:\n  addr: \"127.0.0.1:0\"\n  backends: [" + String.join(", ",
                backends.stream().map(b -> "\"" + b + "\"").toList()) + "]\n  max-connections: 0\n"
                + "api:\n  addr: \"127.0.0.1:0\"\n";
        Files.writeString(file, yaml);
        try (TiProxyServer server = new TiProxyServer(ConfigLoader.load(file), file)) {
            server.start();
            String before = server.config().checksum();

            Files.writeString(file, yaml.replace("max-connections: 0", "max-connections: 1")
                    .replace("  max-connections", "  fail-backend-list: [\"" + backends.get(0) + "\"]\n  max-connections"));
            await().atMost(Duration.ofSeconds(10)).until(() -> server.config().proxy().maxConnections() == 1);
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    server.router().backends().get(backends.get(0)).state().name().equals("DRAINING"));
            String applied = server.config().checksum();
            assertThat(applied).isNotEqualTo(before);

            Files.writeString(file, yaml.replace("max-connections: 0", "max-connections: -1"));
            Thread.sleep(3000);
            assertThat(server.config().checksum()).as("bad file refused, old config kept").isEqualTo(applied);
        }
    }

    @Test
    void metricsShowSessionsPerBackendAndMigrations() throws Exception {
        TestProxy proxy = TestProxy.startMigratable(MariaDbCluster.shared().addresses());
        try (Connection c = connect(proxy)) {
            c.createStatement().execute("SELECT 1");
            await().atMost(Duration.ofSeconds(5)).until(() -> metrics(proxy).contains("tiproxy_balance_b_conn{backend=\""));
            assertThat(metrics(proxy)).containsPattern("tiproxy_balance_b_conn\\{backend=\"[^\"]+\"} 1");

            proxy.api("POST", "/api/debug/redirect");
            c.createStatement().execute("SELECT 1");
            await().atMost(Duration.ofSeconds(10)).until(() ->
                    metrics(proxy).matches("(?s).*tiproxy_balance_migrate_total\\{[^}]*migrate_res=\"succeed\"[^}]*} 1.*"));
            // sessions report connections, handshakes and queries as they happen
            String m = metrics(proxy);
            assertThat(m).containsPattern("tiproxy_server_create_connection_total(\\{[^}]*})? [1-9]");
            assertThat(m).containsPattern("tiproxy_session_handshake_duration_seconds_count\\{backend=\"[^\"]+\"} [1-9]");
            assertThat(m).containsPattern("tiproxy_session_query_total\\{backend=\"[^\"]+\",cmd_type=\"Query\"} [1-9]");
            assertThat(m).containsPattern("tiproxy_traffic_inbound_bytes\\{backend=\"[^\"]+\"} [1-9]");
            assertThat(m).containsPattern("tiproxy_traffic_outbound_bytes\\{backend=\"[^\"]+\"} [1-9]");
            assertThat(m).containsPattern("tiproxy_backend_ping_duration_seconds\\{backend=\"[^\"]+\"} [0-9.E-]*[1-9]");
        } finally {
            proxy.close();
        }
    }

    private static String metrics(TestProxy proxy) {
        return proxy.api("GET", "/metrics").body();
    }
}
