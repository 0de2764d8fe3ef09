package io.tiproxy.proxy.chaos;

import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.Sysbench;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A backend frozen with SIGSTOP under sysbench load: its sockets stay open but nothing answers, so only
 * the health check can tell. Once it is marked unhealthy, new sessions go elsewhere and its idle sessions
 * move away with their state: the proxy holds their state itself and needs nothing from the frozen server.
 * A session inside a transaction cannot move and stays; a frozen server is not a dead one, so after
 * SIGCONT its transaction commits. Statements that were running on it wait for SIGCONT and then finish:
 * sysbench ends without an error.
 *
 * <p>Short form (CI): frozen for as long as the checks take. Long form: {@code -Dtiproxy.chaos.seconds=N}
 * keeps it frozen N more seconds (at most 240). Slow: runs with {@code -Dtiproxy.it=true}.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class HungBackendTest {
    private static final Logger log = LoggerFactory.getLogger(HungBackendTest.class);
    private static final int TABLES = 4;
    private static final int TABLE_SIZE = 2000;
    private static final String DATABASE = "chaos_db";

    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.startNew("hung", 3);
        cluster.servers().forEach(s -> s.execAsAdmin("CREATE DATABASE IF NOT EXISTS " + DATABASE,
                "CREATE TABLE IF NOT EXISTS test.tx_rows (id BIGINT PRIMARY KEY) ENGINE=InnoDB"));
        Sysbench.prepareOnEach(cluster.servers(), TABLES, TABLE_SIZE);
        proxy = TestProxy.start(cluster.addresses(), "", TestProxy.SERVICE_ACCOUNT
                + "health-check:\n  interval: \"500ms\"\n  timeout: \"1s\"\n  fail-threshold: 2\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void frozenBackendGetsNoNewSessionsAndItsIdleSessionsMoveAway() throws Exception {
        SessionLeakCheck leaks = SessionLeakCheck.baseline(proxy);
        Duration hold = ChaosSettings.duration().compareTo(Duration.ofSeconds(240)) > 0
                ? Duration.ofSeconds(240) : ChaosSettings.duration();
        StatefulSessions idle = StatefulSessions.open(proxy, 12, DATABASE);
        OpenTransactions inTx = OpenTransactions.open(proxy, "tx_rows", 3);
        List<OpenTransactions.Tx> txs = inTx.begin(1);
        SysbenchLoad load = SysbenchLoad.start(proxy.port(), TABLES, TABLE_SIZE, 4, Duration.ofSeconds(10), Set.of(1213));
        OpenTransactions.Tx frozenTx = txs.get(0);
        MariaDbServer victim = cluster.servers().stream().filter(s -> s.port() == frozenTx.port()).findFirst().orElseThrow();
        List<StatefulSessions.Session> idleOnVictim;
        List<String> problems = new ArrayList<>();
        int newSessions = 0;
        long frozenNanos;
        SysbenchLoad.Totals totals;
        try {
            // sysbench connected (4 sessions besides the test's 15)
            await().atMost(Duration.ofSeconds(30)).until(() -> proxy.server().registry().size() >= 12 + 3 + 4);
            Thread.sleep(1000); // and under way
            idleOnVictim = idle.on(proxy, victim.address());
            leaks.watchOpenSessions();
            long frozenAt = System.nanoTime();
            victim.sigstop();
            try {
                await().atMost(Duration.ofSeconds(30)).until(() -> stateOf(victim) == BackendState.UNHEALTHY);
                log.info("chaos: {} frozen, marked unhealthy after {} ms", victim, (System.nanoTime() - frozenAt) / 1_000_000);
                await().atMost(Duration.ofSeconds(30)).until(() -> idle.on(proxy, victim.address()).isEmpty());
                problems.addAll(idle.verify());
                for (; newSessions < 10; newSessions++) {
                    int port = newSessionPort();
                    if (port == victim.port()) {
                        problems.add("new session " + newSessions + " went to the frozen backend");
                    }
                }
                assertThat(OpenTransactions.stillOn(proxy, frozenTx, victim.address()))
                        .as("a session inside a transaction stays on its frozen backend").isTrue();
                Thread.sleep(hold.toMillis());
                leaks.watchOpenSessions();
            } finally {
                victim.sigcont();
                frozenNanos = System.nanoTime() - frozenAt;
            }
            OpenTransactions.Outcome outcome = OpenTransactions.finish(txs, -1);
            problems.addAll(outcome.problems());
            assertThat(rowsOn(victim, frozenTx.rowId())).as("the frozen backend's transaction, committed after SIGCONT")
                    .isEqualTo(1);
            await().atMost(Duration.ofSeconds(30)).until(() -> stateOf(victim) == BackendState.HEALTHY);
        } finally {
            totals = load.stop();
            idle.close();
            inTx.close();
        }
        log.info("chaos: sysbench {}", totals);
        assertThat(idleOnVictim).as("idle sessions on the frozen backend (the test needs some)").isNotEmpty();
        assertThat(problems).as("broken promises").isEmpty();
        assertThat(totals.problems()).as("sysbench runs that failed").isEmpty();
        assertThat(totals.reconnects()).as("sysbench reconnects").isZero();
        assertThat(totals.ignoredByCode().keySet()).as("error codes sysbench ignored").isSubsetOf(1213);
        ProxyCounters counters = ProxyCounters.read(proxy);
        assertThat(counters.disconnectionsNotByClient()).as("sessions the proxy ended: " + counters.disconnections()).isZero();
        SessionLeakCheck.Report report = leaks.assertReturnedToNormal(Duration.ofSeconds(60));
        log.info("chaos: frozen {} ms; {} idle sessions moved off it with their state; {} new sessions all elsewhere; "
                        + "its open transaction committed after SIGCONT; migrations {}; {}", frozenNanos / 1_000_000,
                idleOnVictim.size(), newSessions, counters.migrations("succeed"), report);
    }

    /**
     * Before the health check catches a frozen backend, a new session may be sent there: the TCP connection
     * is accepted (by the kernel) but no greeting ever comes. The proxy gives up on it after its backend
     * connect timeout (5 s) and tries the next backend; with none left the client is told which backend did
     * not answer, instead of being held until the handshake timeout and told it was too slow itself.
     * Health checks are off here, so nothing else steers sessions away from the frozen backend.
     */
    @Test
    void aNewSessionSentToAFrozenBackendLogsInElsewhere() throws Exception {
        MariaDbServer frozen = cluster.server(0);
        List<String> problems = new ArrayList<>();
        String unchecked = TestProxy.SERVICE_ACCOUNT + "health-check:\n  interval: 0\n";
        try (TestProxy onlyFrozen = TestProxy.start(List.of(frozen.address()), "  handshake-timeout: \"60s\"\n", unchecked);
             TestProxy all = TestProxy.start(cluster.addresses(), "", unchecked)) {
            frozen.sigstop();
            try {
                long started = System.nanoTime();
                try (Connection c = DriverManager.getConnection(onlyFrozen.mariadbUrl(""), TestAccounts.APP_USER,
                        TestAccounts.APP_PASSWORD)) {
                    problems.add("logged in through a proxy whose only backend is frozen");
                } catch (SQLException e) {
                    long ms = (System.nanoTime() - started) / 1_000_000;
                    log.info("chaos: a session whose only backend is frozen got, after {} ms: {} {}", ms,
                            e.getErrorCode(), e.getMessage());
                    if (e.getErrorCode() != 1105 || !e.getMessage().contains(frozen.address() + ": no greeting")) {
                        problems.add("expected error 1105 naming the frozen backend, got " + e.getErrorCode() + " "
                                + e.getMessage());
                    }
                }
                for (int i = 0; i < 3; i++) {
                    started = System.nanoTime();
                    try (Connection c = DriverManager.getConnection(all.mariadbUrl(""), TestAccounts.APP_USER,
                            TestAccounts.APP_PASSWORD)) {
                        int port = StatefulSessions.backendPort(c);
                        log.info("chaos: new session {} logged in on port {} after {} ms (frozen: {})", i, port,
                                (System.nanoTime() - started) / 1_000_000, frozen.port());
                        if (port == frozen.port()) {
                            problems.add("session " + i + " landed on the frozen backend");
                        }
                    } catch (SQLException e) {
                        problems.add("session " + i + ": " + e.getErrorCode() + " " + e.getMessage());
                    }
                }
            } finally {
                frozen.sigcont();
            }
        }
        assertThat(problems).isEmpty();
    }

    static BackendState stateOf(MariaDbServer server) {
        var info = proxy.server().router().backends().get(server.address());
        return info == null ? null : info.state();
    }

    /** Opens a new session through the proxy and returns the backend port it landed on. */
    static int newSessionPort() throws SQLException {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            return StatefulSessions.backendPort(c);
        }
    }

    static int rowsOn(MariaDbServer server, long id) throws SQLException {
        try (Connection c = server.rootConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM test.tx_rows WHERE id = " + id)) {
            rs.next();
            return rs.getInt(1);
        }
    }
}
