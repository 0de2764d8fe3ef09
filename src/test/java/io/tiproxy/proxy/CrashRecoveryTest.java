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
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Unplanned: a backend is killed with SIGKILL. Idle sessions on it continue on another backend with
 * their state, without an error; a session inside a transaction gets a clear error, then continues.
 */
class CrashRecoveryTest {
    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.startNew("crash", 2);
        cluster.servers().forEach(s -> s.execAsAdmin("CREATE DATABASE IF NOT EXISTS crash_db",
                "CREATE TABLE IF NOT EXISTS crash_db.t (id INT PRIMARY KEY)"));
        proxy = TestProxy.startMigratable(cluster.addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
        cluster.close();
    }

    record Session(Connection conn, PreparedStatement ps, int n) {}

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void fiftyIdleSessionsSurviveAKill9OfTheirBackend() throws Exception {
        List<Session> sessions = new ArrayList<>();
        try {
            for (int i = 0; i < 100; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                        TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                try (Statement s = c.createStatement()) {
                    s.execute("USE crash_db");
                    s.execute("SET @n = " + i + ", @tag = 'session-" + i + "'");
                    s.execute("SET SESSION time_zone = '+0" + (i % 9) + ":00'");
                }
                PreparedStatement ps = c.prepareStatement("SELECT ? + @n");
                sessions.add(new Session(c, ps, i));
            }
            MariaDbServer victim = cluster.server(0);
            List<Session> onVictim = new ArrayList<>();
            for (Session s : sessions) {
                if (serverId(s.conn()) == victim.serverId()) {
                    onVictim.add(s);
                }
            }
            assertThat(onVictim).as("sessions on the victim").hasSizeGreaterThanOrEqualTo(40);

            // one session on the victim holds an open transaction
            Session inTx = onVictim.get(0);
            inTx.conn().setAutoCommit(false);
            inTx.conn().createStatement().execute("INSERT INTO t VALUES (" + inTx.n() + ")");

            int migratedBefore = proxy.server().migrationsSucceeded();
            victim.kill9();
            // the sessions were idle when their backend died: wait until the proxy noticed and rebuilt them
            // (a command racing with the crash itself would be cut off and get an error, as it should)
            org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(20)).until(() ->
                    proxy.server().migrationsSucceeded() - migratedBefore >= onVictim.size() - 1);

            for (Session s : sessions) {
                if (s == inTx) {
                    continue;
                }
                assertThat(serverId(s.conn())).isEqualTo(cluster.server(1).serverId());
                try (Statement st = s.conn().createStatement();
                     ResultSet rs = st.executeQuery("SELECT @n, @tag, DATABASE(), @@time_zone")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(s.n());
                    assertThat(rs.getString(2)).isEqualTo("session-" + s.n());
                    assertThat(rs.getString(3)).isEqualTo("crash_db");
                    assertThat(rs.getString(4)).isEqualTo("+0" + (s.n() % 9) + ":00");
                }
                s.ps().setInt(1, 1000);
                try (ResultSet rs = s.ps().executeQuery()) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(1000 + s.n());
                }
            }

            // the transaction was lost with the backend: a clear error, then the session goes on
            assertThatThrownBy(() -> inTx.conn().createStatement().execute("INSERT INTO t VALUES (100000)"))
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("Lost connection to backend");
            inTx.conn().setAutoCommit(true);
            assertThat(serverId(inTx.conn())).isEqualTo(cluster.server(1).serverId());
        } finally {
            for (Session s : sessions) {
                s.conn().close();
            }
            cluster.server(0).restart();
        }
    }
}
