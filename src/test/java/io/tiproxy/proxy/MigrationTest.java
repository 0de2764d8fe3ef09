package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Planned migration of MySQL/MariaDB sessions with the state the proxy tracks: every piece of state is
 * set through the proxy, the session is moved, and the state is read back on the new backend.
 */
class MigrationTest {
    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.shared();
        // independent servers (not a cluster): objects a session relies on must exist on each
        cluster.servers().forEach(s -> s.execAsAdmin("CREATE DATABASE IF NOT EXISTS mig_db"));
        proxy = TestProxy.startMigratable(cluster.addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static Connection mariadb(String options) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(options), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    static long serverId(Connection c) throws SQLException {
        return longOf(c, "SELECT @@server_id");
    }

    static long longOf(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static String stringOf(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** Asks the proxy to move every session, then waits until {@code c} answers from another server. */
    static long redirectAndAwaitMove(Connection c) throws SQLException {
        long before = serverId(c);
        assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                .until(() -> serverId(c) != before);
        return serverId(c);
    }

    @Test
    void everyKindOfSessionStateSurvivesAMove() throws Exception {
        try (Connection c = mariadb("useServerPrepStmts=true&cachePrepStmts=false"); Statement s = c.createStatement()) {
            s.execute("USE mig_db");
            s.execute("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
            s.execute("SET time_zone = '+03:00'");
            s.execute("SET SESSION group_concat_max_len = 12345");
            s.execute("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE");
            s.execute("SET @i = 42, @neg = -7, @d = 1.50, @r = 1.5e0, @s = 'h\u00e9llo ''quoted''', @b = X'00FF7F', @n = NULL");
            s.execute("SELECT 'from select' INTO @sel");
            s.execute("SET @expr := CONCAT('a', 'b')");
            s.execute("PREPARE sql_ps FROM 'SELECT ? + 100'");
            PreparedStatement ps = c.prepareStatement("SELECT ? * 2");
            ps.setInt(1, 21);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(42);
            }

            // typed values as the server computes with them; must read the same on the new backend
            String probe = "SELECT CONCAT_WS('|', @d * 3, @r / 3, @i DIV 5, CHARSET(@s), COLLATION(@s), CHARSET(@b), "
                    + "LENGTH(@s), @@character_set_results IS NULL, @@autocommit, @@sql_mode)";
            String fingerprint = stringOf(c, probe);

            long before = serverId(c);
            long after = redirectAndAwaitMove(c);
            assertThat(after).isNotEqualTo(before);
            assertThat(stringOf(c, probe)).isEqualTo(fingerprint);

            assertThat(stringOf(c, "SELECT DATABASE()")).isEqualTo("mig_db");
            assertThat(stringOf(c, "SELECT @@SESSION.sql_mode")).contains("ANSI_QUOTES");
            assertThat(stringOf(c, "SELECT @@SESSION.time_zone")).isEqualTo("+03:00");
            assertThat(longOf(c, "SELECT @@SESSION.group_concat_max_len")).isEqualTo(12345);
            assertThat(stringOf(c, "SELECT @@SESSION.tx_isolation")).isEqualTo("SERIALIZABLE");
            try (ResultSet rs = s.executeQuery("SELECT @i, @neg, @d, @r, @s, HEX(@b), @n IS NULL, @sel, @expr")) {
                rs.next();
                assertThat(rs.getLong(1)).isEqualTo(42);
                assertThat(rs.getLong(2)).isEqualTo(-7);
                assertThat(rs.getBigDecimal(3)).isEqualByComparingTo("1.50");
                assertThat(rs.getString(3)).isEqualTo("1.50");
                assertThat(rs.getDouble(4)).isEqualTo(1.5);
                assertThat(rs.getString(5)).isEqualTo("h\u00e9llo 'quoted'");
                assertThat(rs.getString(6)).isEqualTo("00FF7F");
                assertThat(rs.getBoolean(7)).isTrue();
                assertThat(rs.getString(8)).isEqualTo("from select");
                assertThat(rs.getString(9)).isEqualTo("ab");
            }
            s.execute("SET @arg = 5");
            assertThat(longOf(c, "EXECUTE sql_ps USING @arg")).isEqualTo(105);
            // the driver's server-side statement handle is reused unchanged
            ps.setInt(1, 50);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(100);
            }
            ps.close();
        }
    }

    @Test
    void aSessionInATransactionMovesRightAfterCommit() throws Exception {
        try (Connection c = mariadb(""); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS mig_tx (id INT PRIMARY KEY)");
            s.execute("DELETE FROM mig_tx");
            long before = serverId(c);
            c.setAutoCommit(false);
            s.execute("INSERT INTO mig_tx VALUES (1)");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            for (int i = 0; i < 20; i++) {
                Thread.sleep(25);
                assertThat(serverId(c)).as("still inside the transaction").isEqualTo(before);
            }
            c.commit();
            c.setAutoCommit(true);
            await().atMost(Duration.ofSeconds(10)).until(() -> serverId(c) != before);
        }
    }

    @Test
    void aSessionWithATemporaryTableStaysAndSaysWhy() throws Exception {
        try (Connection c = mariadb(""); Statement s = c.createStatement()) {
            s.execute("CREATE TEMPORARY TABLE mig_tmp (x INT)");
            long before = serverId(c);
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            Thread.sleep(500);
            assertThat(serverId(c)).isEqualTo(before);
            String sessions = proxy.api("GET", "/api/sessions").body();
            assertThat(sessions).contains("temporary tables");
            s.execute("DROP TEMPORARY TABLE mig_tmp");
            // the redirect still pending moves it now; ask again only while it has not moved, since a second
            // redirect right behind the first may pick the emptiest backend, which can be the one it left
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                if (serverId(c) != before) {
                    return true;
                }
                proxy.api("POST", "/api/debug/redirect");
                return false;
            });
        }
    }

    @Test
    void aPinnedSessionOnADrainedBackendIsClosedWithAClearErrorAfterTheDeadline() throws Exception {
        try (TestProxy short_ = TestProxy.start(cluster.addresses(), "  graceful-close-conn-timeout: 2\n",
                TestProxy.SERVICE_ACCOUNT);
             Connection pinned = DriverManager.getConnection(short_.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Connection free = DriverManager.getConnection(short_.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            pinned.createStatement().execute("CREATE TEMPORARY TABLE pin (x INT)");
            long pinnedServer = serverId(pinned);
            String addr = cluster.servers().stream().filter(s -> s.serverId() == pinnedServer).findFirst().orElseThrow().address();
            assertThat(short_.api("POST", "/api/backends/" + addr + "/drain").status()).isEqualTo(200);
            Thread.sleep(4000);
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> serverId(pinned))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("cannot move to another backend")
                    .hasMessageContaining("temporary tables");
            assertThat(serverId(free)).isNotEqualTo(pinnedServer);
            short_.api("DELETE", "/api/backends/" + addr + "/drain");
        }
    }

    @Test
    void aSessionWithAnOpenCursorMovesAfterTheLastRow() throws Exception {
        String url = proxy.mysqlUrl("useServerPrepStmts=true&useCursorFetch=true&defaultFetchSize=5");
        try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             PreparedStatement ps = c.prepareStatement("SELECT seq FROM seq_1_to_40")) {
            long before = serverId(c);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next(); // the cursor is open: 5 rows fetched, 35 left on the server
                assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
                Thread.sleep(300);
                int n = 1;
                while (rs.next()) {
                    n++;
                }
                assertThat(n).isEqualTo(40);
            }
            assertThat(proxy.api("GET", "/api/sessions").status()).isEqualTo(200);
            // the fetches all went to the backend that holds the cursor; the move happens after the last row
            await().atMost(Duration.ofSeconds(10)).until(() -> serverId(c) != before);
        }
    }

    @Test
    void theMariadbCliSessionMovesWithItsState() throws Exception {
        ProcessBuilder pb = new ProcessBuilder("mariadb", "--no-defaults", "-h127.0.0.1", "-P" + proxy.port(),
                "-u" + TestAccounts.APP_USER, "-p" + TestAccounts.APP_PASSWORD, "--batch", "--skip-column-names",
                "--unbuffered", TestAccounts.DATABASE).redirectErrorStream(true);
        Process cli = pb.start();
        try (var in = new java.io.BufferedReader(new java.io.InputStreamReader(cli.getInputStream()));
             var out = new java.io.PrintWriter(cli.getOutputStream(), true)) {
            out.println("SET @cli = 'kept', time_zone = '+05:00'; SELECT @@server_id;");
            long before = Long.parseLong(in.readLine().trim());
            long after = before;
            for (int i = 0; i < 50 && after == before; i++) {
                proxy.api("POST", "/api/debug/redirect");
                Thread.sleep(100);
                out.println("SELECT @@server_id;");
                after = Long.parseLong(in.readLine().trim());
            }
            assertThat(after).isNotEqualTo(before);
            out.println("SELECT CONCAT(@cli, ' ', @@time_zone);");
            assertThat(in.readLine()).isEqualTo("kept +05:00");
            out.println("quit");
        } finally {
            if (!cli.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
                cli.destroyForcibly();
            }
        }
    }

    @Test
    void mysqlConnectorCachedServerStatementsKeepWorking() throws Exception {
        String url = proxy.mysqlUrl("useServerPrepStmts=true&cachePrepStmts=true");
        try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            for (int round = 0; round < 3; round++) {
                try (PreparedStatement ps = c.prepareStatement("SELECT ? + 1, @@server_id")) {
                    ps.setInt(1, round);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        assertThat(rs.getInt(1)).isEqualTo(round + 1);
                    }
                }
                redirectAndAwaitMove(c);
            }
        }
    }

    @Test
    void drainingABackendMovesItsSessionsAway() throws Exception {
        MariaDbServer first = cluster.server(0);
        Connection[] conns = new Connection[6];
        try {
            for (int i = 0; i < conns.length; i++) {
                conns[i] = mariadb("");
                conns[i].createStatement().execute("SET @who = " + i);
            }
            assertThat(proxy.api("POST", "/api/backends/" + first.address() + "/drain").status()).isEqualTo(200);
            for (Connection c : conns) {
                await().atMost(Duration.ofSeconds(10)).until(() -> serverId(c) != first.serverId());
            }
            for (int i = 0; i < conns.length; i++) {
                assertThat(longOf(conns[i], "SELECT @who")).isEqualTo(i);
            }
            assertThat(proxy.api("GET", "/api/backends").body()).contains("draining");
        } finally {
            proxy.api("DELETE", "/api/backends/" + first.address() + "/drain");
            for (Connection c : conns) {
                if (c != null) {
                    c.close();
                }
            }
        }
    }
}
