package io.tiproxy.proxy;

import io.tiproxy.proxy.chaos.AckedWriters;
import io.tiproxy.proxy.chaos.ChaosSettings;
import io.tiproxy.proxy.chaos.ProxyCounters;
import io.tiproxy.proxy.chaos.SessionLeakCheck;
import io.tiproxy.proxy.chaos.StatefulSessions;
import io.tiproxy.proxy.chaos.SysbenchLoad;
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
 * A 3-node Galera cluster behind the proxy; each node in turn is drained, stopped and restarted while
 * sysbench {@code oltp_read_write} (server-side prepared statements), acknowledged-commit writers and idle
 * stateful sessions work through the proxy. Promises: no client error (sysbench ignores only InnoDB/Galera
 * deadlocks, 1213, which it retries by design), no disconnect, no state lost (checked after each node),
 * every acknowledged commit on every node at the end, and the proxy holding nothing afterwards.
 *
 * <p>Short form (CI): one rolling restart. Long form: {@code -Dtiproxy.chaos.seconds=N} repeats rolling
 * restarts until N seconds have passed. Slow (~1.5 min): runs with {@code -Dtiproxy.it=true}.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class GaleraRollingRestartTest {
    private static final Logger log = LoggerFactory.getLogger(GaleraRollingRestartTest.class);
    private static final int TABLES = 4;
    private static final int TABLE_SIZE = 5000;
    private static final String DATABASE = "chaos_db";

    static GaleraCluster galera;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        galera = GaleraCluster.start("galmig");
        galera.node(0).execAsAdmin("CREATE DATABASE IF NOT EXISTS " + DATABASE,
                "CREATE TABLE IF NOT EXISTS test.acks (id BIGINT PRIMARY KEY, writer INT) ENGINE=InnoDB");
        Sysbench.prepareOnce(galera.node(0), TABLES, TABLE_SIZE);
        proxy = TestProxy.start(galera.addresses(), "", TestProxy.SERVICE_ACCOUNT
                + "health-check:\n  interval: \"1s\"\n");
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
    void rollingRestartUnderLoadCostsNoErrorNoStateAndNoCommit() throws Exception {
        SessionLeakCheck leaks = SessionLeakCheck.baseline(proxy);
        long started = System.nanoTime();
        long deadline = ChaosSettings.deadlineNanos();
        int migrationsBefore = proxy.server().migrationsSucceeded();
        StatefulSessions idle = StatefulSessions.open(proxy, 12, DATABASE);
        AckedWriters writers = AckedWriters.start(proxy, "acks", 4);
        SysbenchLoad load = SysbenchLoad.start(proxy.port(), TABLES, TABLE_SIZE, 4, Duration.ofSeconds(10), Set.of(1213));
        List<String> lostState = new ArrayList<>();
        int restarts = 0;
        SysbenchLoad.Totals totals;
        try {
            awaitWriterProgress(writers);
            do {
                for (int i = 0; i < 3; i++) {
                    restart(i, writers);
                    restarts++;
                    lostState.addAll(idle.verify());
                    leaks.watchOpenSessions();
                    assertThat(load.failedEarly()).as("a sysbench run failed during the restart of node " + i).isFalse();
                }
            } while (System.nanoTime() < deadline);
            awaitWriterProgress(writers);
        } finally {
            writers.stop();
            totals = load.stop();
            log.info("chaos: sysbench {}", totals);
        }
        lostState.addAll(idle.verify());
        idle.close();

        assertThat(totals.problems()).as("sysbench runs that failed").isEmpty();
        assertThat(totals.reconnects()).as("sysbench reconnects (sessions the proxy dropped)").isZero();
        assertThat(totals.ignoredByCode().keySet()).as("error codes sysbench ignored").isSubsetOf(1213);
        assertThat(writers.errors()).as("writer errors").isEmpty();
        assertThat(lostState).as("idle sessions whose state was lost").isEmpty();
        Map<String, String> missing = writers.missingOnEachNode(galera.nodes());
        assertThat(missing.values()).as("acknowledged commits missing, by node: " + missing).allMatch(String::isEmpty);
        ProxyCounters counters = ProxyCounters.read(proxy);
        assertThat(counters.disconnectionsNotByClient()).as("sessions the proxy ended: " + counters.disconnections()).isZero();
        int migrated = proxy.server().migrationsSucceeded() - migrationsBefore;
        assertThat(migrated).as("sessions moved").isGreaterThanOrEqualTo(restarts);
        SessionLeakCheck.Report report = leaks.assertReturnedToNormal(Duration.ofSeconds(60));
        log.info("chaos: {} node restarts in {} s; {} acknowledged commits on every node; {} migrations {}; "
                        + "failed migrations {}; disconnections {}; {}",
                restarts, Duration.ofNanos(System.nanoTime() - started).toSeconds(), writers.ackedCount(), migrated,
                counters.migrations("succeed"), counters.migrations("fail"), counters.disconnections(), report);
    }

    /** Drains node i, waits until no session is on it, stops it, lets the others take writes, restarts it, undrains. */
    private static void restart(int i, AckedWriters writers) {
        MariaDbServer node = galera.node(i);
        assertThat(proxy.api("POST", "/api/backends/" + node.address() + "/drain").status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> proxy.server().router().sessionCount(node.address()) == 0);
        galera.stopNode(i);
        log.info("chaos: stopped drained {}", node);
        awaitWriterProgress(writers);
        galera.startNode(i);
        assertThat(galera.isSynced(i)).isTrue();
        assertThat(proxy.api("DELETE", "/api/backends/" + node.address() + "/drain").status()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(30)).until(() -> proxy.server().router().healthyBackends().contains(node.address()));
    }

    private static void awaitWriterProgress(AckedWriters writers) {
        int before = writers.ackedCount();
        await().atMost(Duration.ofSeconds(30)).until(() -> writers.ackedCount() > before + 50);
    }
}
