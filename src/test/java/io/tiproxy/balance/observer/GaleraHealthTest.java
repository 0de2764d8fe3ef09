package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.discovery.StaticBackendSource;
import io.tiproxy.proxy.NewSessions;
import io.tiproxy.proxy.StatefulSessions;
import io.tiproxy.testkit.GaleraCluster;
import io.tiproxy.testkit.MariaDbServer;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Slow (a three-node cluster forms in ~20 s, much longer on a loaded host): runs with
 * {@code -Dtiproxy.it=true}, as scripts/test.sh sets.
 *
 * <p>Galera nodes are healthy only when {@code wsrep_ready=ON} and {@code wsrep_local_state_comment='Synced'}
 * (ENVIRONMENT.md: a restarting node accepts logins before it can serve, then fails statements with 1047).
 * A node the probe knows to be Galera whose service-account login fails (access denied, too many
 * connections) cannot show that it is Synced, so it is unhealthy too. Checked on the observer, and
 * through a proxy for the restart.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class GaleraHealthTest {
    private static final Logger log = LoggerFactory.getLogger(GaleraHealthTest.class);
    private static final ObserverSettings SETTINGS = new ObserverSettings(Duration.ofMillis(250), Duration.ofSeconds(1),
            1, 1, TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD);

    private static GaleraCluster cluster;

    @BeforeAll
    static void startCluster() {
        cluster = GaleraCluster.start("observer");
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    void desyncedNodeIsUnhealthyUntilSyncedAgain() {
        EventRecorder recorder = new EventRecorder();
        String node1 = cluster.node(1).address();
        try (BackendObserver observer = observe(recorder)) {
            awaitAllHealthy(recorder);
            cluster.node(1).execAsAdmin("SET GLOBAL wsrep_desync=ON");
            try {
                await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node1, BackendState.UNHEALTHY));
                assertThat(observer.snapshot().get(node1).reason())
                        .contains("wsrep_local_state_comment=Donor/Desynced");
            } finally {
                cluster.node(1).execAsAdmin("SET GLOBAL wsrep_desync=OFF");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node1, BackendState.HEALTHY));
        }
    }

    @Test
    void restartedNodeIsNotHealthyBeforeItIsSynced() throws Exception {
        MariaDbServer node = cluster.node(2);
        List<String> violations = new CopyOnWriteArrayList<>();
        EventRecorder recorder = new EventRecorder();
        Set<String> reasonsWhileRejoining = ConcurrentHashMap.newKeySet();
        try (BackendObserver observer = observe(recorder)) {
            awaitAllHealthy(recorder);
            cluster.stopNode(2);
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.UNHEALTHY));

            // from now on: the moment the observer calls node 2 HEALTHY, it must serve statements (no 1047).
            // (Asking the harness "is it Synced?" from here races with the node's own progress through
            // Joined -> Synced, so the check is the one clients care about: a statement succeeds.)
            observer.subscribe(event -> {
                if (event.previous() != null && event.current().address().equals(node.address())
                        && event.current().state() == BackendState.HEALTHY) {
                    String error = runStatement(node);
                    if (error != null) {
                        violations.add("HEALTHY but a statement failed: " + error);
                    }
                }
            });
            CompletableFuture<Void> rejoin = CompletableFuture.runAsync(() -> cluster.startNode(2));
            while (!rejoin.isDone()) {
                BackendInfo info = observer.snapshot().get(node.address());
                if (info != null && info.state() == BackendState.UNHEALTHY) {
                    reasonsWhileRejoining.add(info.reason().replaceAll("\\d+", "N"));
                }
                Thread.sleep(50);
            }
            rejoin.get();
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.HEALTHY));
        }
        log.info("reasons seen while node 2 rejoined: {}", reasonsWhileRejoining);
        assertThat(violations).isEmpty();
    }

    @Test
    void aKnownGaleraNodeWhoseServiceAccountCannotLogInIsUnhealthy() throws Exception {
        MariaDbServer node = cluster.node(1);
        EventRecorder recorder = new EventRecorder();
        try (BackendObserver observer = observe(recorder)) {
            awaitAllHealthy(recorder); // every node seen with wsrep_on=ON
            // a password that differs on this node only: what a joining node with older grant tables answers
            onThisNodeOnly(node, "ALTER USER '" + TestAccounts.SERVICE_USER
                    + "'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('not-the-configured-one')");
            try {
                await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.UNHEALTHY));
                assertThat(observer.snapshot().get(node.address()).reason())
                        .contains("Galera node, but the service account cannot log in").contains("1045");
                assertThat(observer.healthyBackends()).extracting(BackendInfo::address)
                        .containsExactlyInAnyOrder(cluster.node(0).address(), cluster.node(2).address());
                try (BackendHealthChecker fresh = new BackendHealthChecker(SETTINGS)) {
                    HealthResult unknown = fresh.check(DiscoveredBackend.ofAddress(node.address()), SETTINGS.timeout()).get();
                    assertThat(unknown.healthy()).as("a probe that never saw it as Galera: up, with a warning").isTrue();
                    assertThat(unknown.reason()).contains("service account cannot log in");
                }
            } finally {
                onThisNodeOnly(node, "ALTER USER '" + TestAccounts.SERVICE_USER
                        + "'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('" + TestAccounts.SERVICE_PASSWORD + "')");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.HEALTHY));
        }
    }

    @Test
    void aGaleraNodeAtMaxConnectionsIsUnhealthy() throws Exception {
        MariaDbServer node = cluster.node(2);
        EventRecorder recorder = new EventRecorder();
        List<Connection> held = new ArrayList<>();
        try (BackendObserver observer = observe(recorder)) {
            awaitAllHealthy(recorder);
            node.execAsAdmin("SET GLOBAL max_connections = 10"); // global variables are per node
            try {
                // fill it (app has SUPER, so it also takes the one extra connection MariaDB keeps for SUPER)
                while (held.size() < 50) {
                    try {
                        held.add(DriverManager.getConnection(node.jdbcUrl(), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD));
                    } catch (SQLException e) {
                        assertThat(e.getErrorCode()).as(e.getMessage()).isEqualTo(1040);
                        break;
                    }
                }
                await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.UNHEALTHY));
                assertThat(observer.snapshot().get(node.address()).reason()).contains("1040");
            } finally {
                for (Connection c : held) {
                    c.close();
                }
                node.execAsAdmin("SET GLOBAL max_connections = 1000");
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(node.address(), BackendState.HEALTHY));
        }
    }

    /**
     * Through a proxy: the node is drained while it stops and undrained at once, so from then on only the
     * health checks keep sessions away from it while it restarts and rejoins. New sessions (each runs a
     * statement) and stateful sessions keep working all along: no 1047, no error at all; once the node is
     * Synced, new sessions reach it again.
     */
    @Test
    void throughTheProxyARestartingNodeGetsNoSessionBeforeItIsSynced() throws Exception {
        MariaDbServer node = cluster.node(2);
        try (TestProxy proxy = TestProxy.start(cluster.addresses(), "", TestProxy.SERVICE_ACCOUNT
                + "health-check:\n  interval: \"250ms\"\n  timeout: \"1s\"\n  fail-threshold: 1\n")) {
            BackendObserver observer = proxy.server().observer();
            await().atMost(Duration.ofSeconds(20)).until(() -> observer.healthyBackends().size() == 3);
            StatefulSessions sessions = StatefulSessions.start(proxy, 4, Duration.ofMillis(50));
            NewSessions newSessions = null;
            try {
                sessions.awaitProgress(20, Duration.ofSeconds(30));
                assertThat(proxy.server().drain(node.address())).isTrue();
                await().atMost(Duration.ofSeconds(20)).until(() -> proxy.server().router().sessionCount(node.address()) == 0);
                cluster.stopNode(2);
                assertThat(proxy.server().undrain(node.address())).isTrue();
                await().atMost(Duration.ofSeconds(5)).until(() -> !observer.healthyBackends().stream()
                        .map(BackendInfo::address).toList().contains(node.address()));

                NewSessions started = NewSessions.start(proxy, Duration.ofMillis(100));
                newSessions = started;
                cluster.startNode(2); // returns once it is Synced
                int syncedAt = started.completed();
                await().atMost(Duration.ofSeconds(30)).until(() -> started.serverIdsSince(syncedAt)
                        .contains((long) node.serverId()));
                sessions.awaitProgress(20, Duration.ofSeconds(30));
            } finally {
                sessions.stop();
                if (newSessions != null) {
                    newSessions.stop();
                }
            }
            assertThat(newSessions.errors()).as("new sessions: errors (1047 = sent to a node not yet Synced)").isEmpty();
            assertThat(newSessions.completed()).isPositive();
            assertThat(sessions.errors()).as("stateful sessions").isEmpty();
        }
    }

    /** Runs statements on this node without replicating them (a session with {@code wsrep_on=OFF}). */
    private static void onThisNodeOnly(MariaDbServer node, String sql) {
        node.execAsAdmin("SET SESSION wsrep_on = OFF", sql, "SET SESSION wsrep_on = ON");
    }

    private BackendObserver observe(EventRecorder recorder) {
        BackendObserver observer = new BackendObserver(new StaticBackendSource(cluster.addresses()),
                new BackendHealthChecker(SETTINGS), SETTINGS);
        observer.subscribe(recorder);
        observer.start();
        return observer;
    }

    private void awaitAllHealthy(EventRecorder recorder) {
        await().atMost(Duration.ofSeconds(10)).until(() ->
                cluster.addresses().stream().allMatch(a -> recorder.lastIs(a, BackendState.HEALTHY)));
    }

    /** Null when a statement runs; else the error (1047 "WSREP has not yet prepared node" on an unsynced node). */
    private static String runStatement(MariaDbServer node) {
        try (Connection conn = node.rootConnection(); Statement stmt = conn.createStatement();
             ResultSet rs = stmt.executeQuery("SELECT COUNT(*) FROM information_schema.tables")) {
            rs.next();
            return null;
        } catch (Exception e) {
            return e.getMessage();
        }
    }
}
