package io.tiproxy.tidb;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Sessions move between three simulated TiDBs (each fronting one MariaDB of the shared cluster) behind
 * the real proxy, through {@code SHOW SESSION_STATES} -> {@code tidb_session_token} login ->
 * {@code SET SESSION_STATES}. No service account: TiDB hands the state and the credential over itself.
 */
class TiDbMigrationTest {
    @TempDir
    static Path certDir;
    static MariaDbCluster cluster;
    static final List<SimulatedTiDb> tidbs = new ArrayList<>();
    static TestProxy proxy;

    @BeforeAll
    static void start() throws Exception {
        cluster = MariaDbCluster.shared();
        cluster.servers().forEach(s -> s.execAsAdmin("CREATE DATABASE IF NOT EXISTS tidb_db",
                "CREATE TABLE IF NOT EXISTS tidb_db.t (id INT PRIMARY KEY, v VARCHAR(20))"));
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(certDir, SimulatedTiDbSigningCert.Kind.RSA);
        for (int i = 0; i < 3; i++) {
            SimulatedTiDb tidb = new SimulatedTiDb("tidb-" + (i + 1), cluster.servers().get(i));
            tidb.loadSigningCert(cert); // the same pair on every TiDB
            tidbs.add(tidb);
        }
        proxy = TestProxy.start(tidbs.stream().map(SimulatedTiDb::address).toList());
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        tidbs.forEach(SimulatedTiDb::close);
    }

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
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

    static long redirectAndAwaitMove(Connection c) throws SQLException {
        long before = serverId(c);
        assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50)).until(() -> serverId(c) != before);
        return serverId(c);
    }

    /**
     * Facts: "Migration exchange" 1-4 (columns by name, token login with the database from current-db,
     * SET SESSION_STATES with a single-quoted escaped literal), "Session states JSON" (sys-vars,
     * user-var-values/types, prepared-stmts restored with their original ids), "Wire details"
     * (no CLIENT_SESSION_TRACK: the proxy must not rely on it).
     */
    void sessionStateSurvivesAMove(Connection c) throws Exception {
        try (Statement s = c.createStatement()) {
            s.execute("USE tidb_db");
            s.execute("SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'");
            s.execute("SET time_zone = '+03:00'");
            s.execute("SET SESSION group_concat_max_len = 12345");
            s.execute("SET @i = 42, @d = 1.50, @s = 'h\u00e9llo ''quoted'' \\\\ back', @n = NULL");
            PreparedStatement ps = c.prepareStatement("SELECT ? * 2, DATABASE()");
            ps.setInt(1, 21);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(42);
            }
            String probe = "SELECT CONCAT_WS('|', @i + 1, @d * 3, @s, @n IS NULL, @@sql_mode, @@time_zone, "
                    + "@@group_concat_max_len, DATABASE())";
            String fingerprint = stringOf(c, probe);
            int tokenLoginsBefore = tidbs.stream().mapToInt(SimulatedTiDb::acceptedTokenLogins).sum();

            long before = serverId(c);
            long after = redirectAndAwaitMove(c);

            assertThat(after).isNotEqualTo(before);
            assertThat(tidbs.stream().mapToInt(SimulatedTiDb::acceptedTokenLogins).sum()).isGreaterThan(tokenLoginsBefore);
            assertThat(stringOf(c, probe)).isEqualTo(fingerprint);
            assertThat(stringOf(c, "SELECT @s")).isEqualTo("h\u00e9llo 'quoted' \\ back");
            // the statement prepared before the move keeps its id (TiDB restores it), with its parameter types
            ps.setInt(1, 50);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(100);
                assertThat(rs.getString(2)).isEqualTo("tidb_db");
            }
            ps.close();
        }
    }

    @Test
    void sessionWithVariablesUserVariablesDbAndPreparedStatementMovesWithMariaDbDriver() throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true&cachePrepStmts=false"),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            sessionStateSurvivesAMove(c);
        }
    }

    @Test
    void sessionWithVariablesUserVariablesDbAndPreparedStatementMovesWithMySqlDriver() throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mysqlUrl("useServerPrepStmts=true&cachePrepStmts=false"),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            sessionStateSurvivesAMove(c);
        }
    }

    /** Fact: "Migration exchange" 1 — a session in a transaction cannot move (8146); it moves right after COMMIT. */
    @Test
    void sessionInsideATransactionMovesRightAfterCommit() throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Statement s = c.createStatement()) {
            s.execute("USE tidb_db");
            c.setAutoCommit(false);
            long before = serverId(c);
            s.execute("DELETE FROM t WHERE id = 7");
            s.execute("INSERT INTO t VALUES (7, 'in-txn')");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            Thread.sleep(500);
            assertThat(serverId(c)).isEqualTo(before);
            assertThat(stringOf(c, "SELECT v FROM t WHERE id = 7")).isEqualTo("in-txn");
            c.commit();
            c.setAutoCommit(true);
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50)).until(() -> serverId(c) != before);
        }
    }
}
