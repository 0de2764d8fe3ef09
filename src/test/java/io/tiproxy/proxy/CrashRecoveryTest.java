package io.tiproxy.proxy;

import ch.qos.logback.classic.Level;
import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.LogCapture;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Unplanned: a backend is killed with SIGKILL. Idle sessions on it continue on another backend with
 * their state, without an error; a session inside a transaction gets a clear error, then continues; so
 * does a statement cut off, even for libmariadb clients (the {@code mariadb} CLI, sysbench), which refuse
 * an error packet carrying a client-side code such as 2013. The Galera version under load is
 * {@code chaos.GaleraKillTest}.
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
        awaitAllHealthy();
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

    @Test
    void aStatementCutOffByTheKillGetsAnErrorTheMariadbCliCanReadAndTheSessionGoesOn() throws Exception {
        awaitAllHealthy();
        List<String> cmd = List.of("mariadb", "--no-defaults", "-h127.0.0.1", "-P" + proxy.port(),
                "-u" + TestAccounts.APP_USER, "-p" + TestAccounts.APP_PASSWORD, "--batch", "--skip-column-names",
                "--force", TestAccounts.DATABASE);
        CompletableFuture<Commands.Result> cli = CompletableFuture.supplyAsync(() -> Commands.run(cmd,
                "SET @marker = 'kept';\nSELECT SLEEP(20);\nSELECT @marker, @@port;\n", Duration.ofSeconds(60)));
        MariaDbServer victim = null;
        try {
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (victim == null) {
                for (MariaDbServer s : cluster.servers()) {
                    if (runsSleep(s)) {
                        victim = s;
                    }
                }
                assertThat(System.nanoTime()).as("SELECT SLEEP(20) seen on a backend").isLessThan(deadline);
                Thread.sleep(50);
            }
            victim.kill9();
            Commands.Result r = cli.get();
            MariaDbServer survivor = victim == cluster.server(0) ? cluster.server(1) : cluster.server(0);
            assertThat(r.output()).as(r.output()).contains("ERROR 1105 (HY000) at line 2: Lost connection to backend: "
                    + victim.address());
            assertThat(r.output()).as("the same session, with its state, on the other backend")
                    .contains("kept\t" + survivor.port());
        } finally {
            if (victim != null) {
                victim.restart();
            }
        }
    }

    private static boolean runsSleep(MariaDbServer server) throws SQLException {
        try (Connection c = server.rootConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery(
                     "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(20)'")) {
            rs.next();
            return rs.getInt(1) > 0;
        }
    }

    /**
     * The session's backend died and no other backend can take it yet (here: drained), so rebuilding it
     * waits and retries. A statement the client sends meanwhile waits too and is answered once the
     * session is rebuilt; forwarded at once, it would go to the dead connection and never be answered.
     * The statement is sent after the second failed attempt, in the 400 ms before the third, and the
     * other backend is made available right after it.
     */
    @Test
    void aStatementSentWhileTheRebuildWaitsForABackendIsAnsweredOnceOneIsBack() throws Exception {
        awaitAllHealthy();
        MariaDbServer victim = cluster.server(0);
        MariaDbServer other = cluster.server(1);
        Class<?> migrator = Class.forName("io.tiproxy.proxy.client.SessionMigrator");
        assertThat(proxy.server().drain(other.address())).isTrue();
        try (LogCapture log = LogCapture.of(migrator);
             RawMySqlClient client = new RawMySqlClient(proxy.port(), 20_000)) {
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> proxy.server().router().healthyBackends().equals(List.of(victim.address())));
            assertThat(client.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
            assertThat(client.query("SET @m = 7").isOk()).isTrue();
            victim.kill9();
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(5)).until(() -> log.messages(Level.WARN)
                    .stream().anyMatch(m -> m.contains("cannot restore the session after its backend was lost (attempt 2)")));
            byte[] sql = "SELECT @m".getBytes(StandardCharsets.UTF_8);
            byte[] payload = new byte[sql.length + 1];
            payload[0] = 0x03;
            System.arraycopy(sql, 0, payload, 1, sql.length);
            client.write(0, payload);
            assertThat(proxy.server().undrain(other.address())).isTrue();
            assertThat(log.messages(Level.WARN)).as("rebuild given up before the other backend was back: "
                    + "this run could not test the promise (the host stalled > 400 ms)")
                    .noneMatch(m -> m.contains("cannot be restored"));
            RawMySqlClient.Packet first = client.read(); // hangs here (read timeout) if the statement was lost
            assertThat(first.isErr()).as(first.isErr() ? first.errorMessage() : "").isFalse();
            boolean sawRow = false;
            for (int i = 0; i < 5 && !sawRow; i++) {
                byte[] p = client.read().payload();
                sawRow = p.length == 2 && p[0] == 1 && p[1] == '7';
            }
            assertThat(sawRow).as("the row of SELECT @m, with the value set before the crash").isTrue();
        } finally {
            proxy.server().undrain(other.address());
            victim.restart();
        }
    }

    /** Every backend healthy and past its probation (a backend that dropped its sessions gets no new ones for a while). */
    private static void awaitAllHealthy() {
        await().atMost(Duration.ofSeconds(30)).until(() -> proxy.server().router().healthyBackends().size() == cluster.size()
                && proxy.server().router().onProbation().isEmpty());
    }
}
