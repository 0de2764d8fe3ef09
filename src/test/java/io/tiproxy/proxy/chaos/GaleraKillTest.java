package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.GaleraCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.Sysbench;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code kill -9} of a Galera node (the data survives on the others) while sysbench, acknowledged-commit
 * writers, idle stateful sessions and sessions idle inside a transaction work through the proxy. Promises:
 * idle sessions go on with their state; a transaction on the dead node ends with a clear MySQL error and
 * its session goes on; a statement cut off gets a clear error and the session goes on (sysbench ignores
 * 1105 and never reconnects); no acknowledged commit is lost (counted directly on each surviving node);
 * afterwards the proxy holds no session and its heap is back where it started.
 *
 * <p>Short form (CI): one kill; the node stays down. Long form: {@code -Dtiproxy.chaos.seconds=N} kills a
 * node, restarts it (after a crash it rejoins by full state transfer) and moves on to the next, until N
 * seconds have passed. Slow: runs with {@code -Dtiproxy.it=true}.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class GaleraKillTest {
    private static final Logger log = LoggerFactory.getLogger(GaleraKillTest.class);
    private static final int TABLES = 4;
    private static final int TABLE_SIZE = 5000;
    private static final int SYSBENCH_THREADS = 4;
    private static final int WRITERS = 4;
    private static final String DATABASE = "chaos_db";

    static GaleraCluster galera;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        galera = GaleraCluster.start("galkill");
        galera.node(0).execAsAdmin("CREATE DATABASE IF NOT EXISTS " + DATABASE,
                "CREATE TABLE IF NOT EXISTS test.acks (id BIGINT PRIMARY KEY, writer INT) ENGINE=InnoDB",
                "CREATE TABLE IF NOT EXISTS test.tx_rows (id BIGINT PRIMARY KEY) ENGINE=InnoDB");
        Sysbench.prepareOnce(galera.node(0), TABLES, TABLE_SIZE);
        proxy = TestProxy.start(galera.addresses(), "", TestProxy.SERVICE_ACCOUNT
                + "health-check:\n  interval: \"500ms\"\n  timeout: \"2s\"\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (galera != null) {
            galera.close();
        }
    }

    @Test
    void killedNodeCostsOnlyTheStatementsItWasRunning() throws Exception {
        SessionLeakCheck leaks = SessionLeakCheck.baseline(proxy);
        long started = System.nanoTime();
        long deadline = ChaosSettings.deadlineNanos();
        StatefulSessions idle = StatefulSessions.open(proxy, 24, DATABASE);
        OpenTransactions inTx = OpenTransactions.open(proxy, "tx_rows", 6);
        AckedWriters writers = AckedWriters.start(proxy, "acks", WRITERS);
        SysbenchLoad load = SysbenchLoad.start(proxy.port(), TABLES, TABLE_SIZE, SYSBENCH_THREADS,
                Duration.ofSeconds(10), Set.of(1213, 1105));
        List<Long> committed = new ArrayList<>();
        List<Long> rolledBack = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int kills = 0;
        int idleOnVictims = 0;
        long[] ackedAtLastKill;
        SysbenchLoad.Totals totals;
        try {
            while (true) {
                int before = writers.ackedCount();
                await().atMost(Duration.ofSeconds(30)).until(() -> writers.ackedCount() > before + 50);
                List<OpenTransactions.Tx> txs = inTx.begin(1_000_000L * (kills + 1));
                int victimIndex = chooseVictim(txs, kills);
                MariaDbServer victim = galera.node(victimIndex);
                idleOnVictims += idle.on(proxy, victim.address()).size();
                leaks.watchOpenSessions();
                ackedAtLastKill = writers.ackedPerWriter();

                victim.kill9();
                kills++;
                log.info("chaos: killed {} (kill {}), sessions on it are rebuilt elsewhere", victim, kills);
                await().atMost(Duration.ofSeconds(30)).until(() -> proxy.server().registry().all().stream()
                        .noneMatch(c -> victim.address().equals(c.backendAddress())));
                problems.addAll(idle.verify());
                OpenTransactions.Outcome outcome = OpenTransactions.finish(txs, victim.port());
                committed.addAll(outcome.committed());
                rolledBack.addAll(outcome.rolledBack());
                problems.addAll(outcome.problems());
                leaks.watchOpenSessions();
                if (System.nanoTime() >= deadline) {
                    break;
                }
                // long form: the node comes back (after a crash, by full state transfer) before the next kill
                galera.startNode(victimIndex);
                await().atMost(Duration.ofSeconds(120))
                        .until(() -> proxy.server().router().healthyBackends().contains(victim.address()));
                problems.addAll(idle.verify());
            }
            int afterLastKill = writers.ackedCount();
            await().atMost(Duration.ofSeconds(30)).until(() -> writers.ackedCount() > afterLastKill + 50);
        } finally {
            writers.stop();
            totals = load.stop();
            log.info("chaos: sysbench {}", totals);
            idle.close();
            inTx.close();
        }
        checkSysbench(totals, kills);
        long[] ackedAtEnd = writers.ackedPerWriter();
        assertThat(problems).as("broken promises to idle sessions and open transactions").isEmpty();
        assertThat(rolledBack).as("transactions on a killed node (the test needs at least one)").isNotEmpty();
        assertThat(idleOnVictims).as("idle stateful sessions on a killed node (the test needs some)").isPositive();
        checkWriters(writers, kills, ackedAtLastKill, ackedAtEnd);
        List<MariaDbServer> running = galera.nodes().stream().filter(MariaDbServer::isRunning).toList();
        Map<String, String> missing = writers.missingOnEachNode(running);
        assertThat(missing.values()).as("acknowledged commits missing, by node: " + missing).allMatch(String::isEmpty);
        checkRows(running, committed, rolledBack);
        ProxyCounters counters = ProxyCounters.read(proxy);
        assertThat(counters.disconnectionsNotByClient()).as("sessions the proxy ended: " + counters.disconnections()).isZero();
        assertThat(counters.migrations("succeed").getOrDefault("backend-lost", 0L))
                .as("sessions rebuilt after a kill").isGreaterThanOrEqualTo(idleOnVictims);
        SessionLeakCheck.Report report = leaks.assertReturnedToNormal(Duration.ofSeconds(60));
        log.info("chaos: {} kill(s) in {} s; {} acknowledged commits on every running node; "
                        + "{} idle sessions rebuilt with state; "
                        + "{} open transactions rolled back with an error, {} committed; writer errors {}; migrations {}; {}",
                kills, Duration.ofNanos(System.nanoTime() - started).toSeconds(), writers.ackedCount(), idleOnVictims,
                rolledBack.size(), committed.size(), writers.errors(), counters.migrations("succeed"), report);
    }

    /** A node holding at least one open transaction, in turn from {@code round}. */
    private static int chooseVictim(List<OpenTransactions.Tx> txs, int round) {
        for (int i = 0; i < 3; i++) {
            int candidate = (round + i) % 3;
            int port = galera.node(candidate).port();
            if (txs.stream().anyMatch(tx -> tx.port() == port)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no open transaction on any node");
    }

    private static void checkSysbench(SysbenchLoad.Totals totals, int kills) {
        assertThat(totals.problems()).as("sysbench runs that failed").isEmpty();
        assertThat(totals.reconnects()).as("sysbench reconnects (sessions the proxy dropped)").isZero();
        assertThat(totals.ignoredByCode().keySet()).as("error codes sysbench ignored").isSubsetOf(1213, 1105);
        // a session loses at most the one statement the dead node was running when it died
        assertThat(totals.ignored(1105)).as("sysbench statements cut off by a kill")
                .isLessThanOrEqualTo((long) SYSBENCH_THREADS * kills);
        assertThat(totals.transactions()).isPositive();
    }

    private static void checkWriters(AckedWriters writers, int kills, long[] atLastKill, long[] atEnd) {
        List<AckedWriters.WriterError> errors = writers.errors();
        assertThat(errors).as("writers disconnected").noneMatch(AckedWriters.WriterError::disconnected);
        assertThat(errors).as("writer errors other than a clean 'lost connection to backend'")
                .allMatch(e -> e.code() == 1105 && e.message().contains("Lost connection to backend"));
        assertThat(errors.size()).as("writer statements cut off").isLessThanOrEqualTo(WRITERS * kills);
        for (int w = 0; w < atEnd.length; w++) {
            assertThat(atEnd[w]).as("writer %d commits after the last kill", w).isGreaterThan(atLastKill[w]);
        }
    }

    /** Committed transactions are on every running node; rolled-back ones on none. */
    private static void checkRows(List<MariaDbServer> running, List<Long> committed, List<Long> rolledBack) throws Exception {
        for (MariaDbServer node : running) {
            try (var c = node.rootConnection(); var s = c.createStatement()) {
                s.execute("SET SESSION wsrep_sync_wait = 1");
                List<Long> present = new ArrayList<>();
                try (var rs = s.executeQuery("SELECT id FROM test.tx_rows")) {
                    while (rs.next()) {
                        present.add(rs.getLong(1));
                    }
                }
                assertThat(present).as("rows of committed transactions on " + node.address()).containsAll(committed);
                assertThat(present).as("rows of rolled-back transactions on " + node.address())
                        .doesNotContainAnyElementsOf(rolledBack);
            }
        }
    }
}
