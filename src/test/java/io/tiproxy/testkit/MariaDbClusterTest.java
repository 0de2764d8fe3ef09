package io.tiproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class MariaDbClusterTest {

    @Test
    void sharedClusterHasThreeDistinctServersReachableAsApp() throws SQLException {
        MariaDbCluster cluster = MariaDbCluster.shared();

        assertThat(cluster.servers()).hasSize(3);
        assertThat(MariaDbCluster.shared()).isSameAs(cluster);
        Set<Long> serverIds = new HashSet<>();
        for (MariaDbServer server : cluster.servers()) {
            assertThat(server.host()).isEqualTo("127.0.0.1");
            try (Connection conn = DriverManager.getConnection(server.jdbcUrl(),
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(queryLong(conn, "SELECT @@server_id")).isEqualTo(server.serverId());
                assertThat(queryLong(conn, "SELECT @@port")).isEqualTo(server.port());
                assertThat(queryString(conn, "SELECT DATABASE()")).isEqualTo(TestAccounts.DATABASE);
                assertThat(queryString(conn, "SELECT @@local_infile")).isEqualTo("1");
                serverIds.add(queryLong(conn, "SELECT @@server_id"));
            }
        }
        assertThat(serverIds).hasSize(3);
        assertThat(cluster.addresses()).containsExactly(
                cluster.server(0).address(), cluster.server(1).address(), cluster.server(2).address());
        assertThat(cluster.addresses()).allMatch(a -> a.startsWith("127.0.0.1:"));
    }

    @Test
    void mysqlConnectorJLogsInWithNativePassword() throws SQLException {
        MariaDbServer server = MariaDbCluster.shared().server(0);
        String url = "jdbc:mysql://" + server.address() + "/test?sslMode=DISABLED";
        try (Connection conn = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            assertThat(queryString(conn, "SELECT CURRENT_USER()")).isEqualTo("app@%");
        }
    }

    @Test
    void ed25519LoginWorksWithMariaDbConnectorJ() throws SQLException {
        MariaDbServer server = MariaDbCluster.shared().server(1);
        try (Connection conn = DriverManager.getConnection(server.jdbcUrl(),
                TestAccounts.ED25519_USER, TestAccounts.ED25519_PASSWORD)) {
            assertThat(queryString(conn, "SELECT CURRENT_USER()")).isEqualTo("eduser@%");
        }
        try (Connection conn = server.rootConnection()) {
            assertThat(queryString(conn,
                    "SELECT JSON_VALUE(priv, '$.plugin') FROM mysql.global_priv WHERE User = 'eduser'"))
                    .isEqualTo("ed25519");
        }
    }

    @Test
    void serviceAccountReadsNativePasswordHashes() throws SQLException {
        MariaDbServer server = MariaDbCluster.shared().server(2);
        // the service account may read only the two account tables: it connects without a database
        try (Connection conn = DriverManager.getConnection("jdbc:mariadb://" + server.address() + "/",
                TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD)) {
            String hash = queryString(conn, "SELECT authentication_string FROM mysql.user WHERE User = 'app'");
            assertThat(hash).startsWith("*").hasSize(41);
            assertThat(queryString(conn, "SELECT UPPER(SHA1(UNHEX(SHA1('app-pass'))))"))
                    .isEqualTo(hash.substring(1));
        }
    }

    @Test
    void ownServerSurvivesKill9AndRestart() throws SQLException {
        try (MariaDbCluster cluster = MariaDbCluster.startNew("kill9", 1)) {
            MariaDbServer server = cluster.server(0);
            server.execAsAdmin("CREATE TABLE test.t (id INT PRIMARY KEY)", "INSERT INTO test.t VALUES (42)");
            long pidBefore = server.pid();
            int port = server.port();

            server.kill9();

            assertThat(server.isRunning()).isFalse();
            assertThatThrownBy(() -> DriverManager.getConnection(server.jdbcUrl() + "?connectTimeout=2000",
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD).close())
                    .isInstanceOf(SQLException.class);

            server.restart();

            assertThat(server.isRunning()).isTrue();
            assertThat(server.pid()).isNotEqualTo(pidBefore);
            assertThat(server.port()).isEqualTo(port);
            try (Connection conn = DriverManager.getConnection(server.jdbcUrl(),
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(queryLong(conn, "SELECT id FROM test.t")).isEqualTo(42);
                assertThat(queryLong(conn, "SELECT @@server_id")).isEqualTo(server.serverId());
            }
        }
    }

    @Test
    void sigstoppedServerFreezesAndStopStillWorks() throws SQLException {
        try (MariaDbCluster cluster = MariaDbCluster.startNew("sigstop", 1)) {
            MariaDbServer server = cluster.server(0);
            server.sigstop();

            assertThat(server.isRunning()).isTrue();
            assertThatThrownBy(() -> DriverManager.getConnection(server.jdbcUrl() + "?connectTimeout=1000",
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD).close())
                    .isInstanceOf(SQLException.class);

            server.sigcont();
            try (Connection conn = DriverManager.getConnection(server.jdbcUrl(),
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(queryLong(conn, "SELECT 1")).isEqualTo(1);
            }

            server.sigstop();
            server.stop();
            assertThat(server.isRunning()).isFalse();
        }
    }

    @Test
    void extraCnfLinesAreApplied() throws SQLException {
        try (MariaDbServer server = MariaDbServer.start("extracnf", 150, List.of("max_connect_errors=7"))) {
            try (Connection conn = server.rootConnection()) {
                assertThat(queryLong(conn, "SELECT @@max_connect_errors")).isEqualTo(7);
                assertThat(queryLong(conn, "SELECT @@server_id")).isEqualTo(150);
            }
        }
        // close() removed the data directory
    }

    private static long queryLong(Connection conn, String sql) throws SQLException {
        try (Statement stmt = conn.createStatement(); ResultSet rs = stmt.executeQuery(sql)) {
            assertThat(rs.next()).as("a row from %s", sql).isTrue();
            return rs.getLong(1);
        }
    }

    private static String queryString(Connection conn, String sql) throws SQLException {
        try (Statement stmt = conn.createStatement(); ResultSet rs = stmt.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }
}
