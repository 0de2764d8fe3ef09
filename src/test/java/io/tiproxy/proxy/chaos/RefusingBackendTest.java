package io.tiproxy.proxy.chaos;

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
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Backends that refuse connections while the proxy still believes them healthy (health checks off, so
 * nothing but the connection attempt itself can tell): one stopped (its port refuses), one at
 * {@code max_connections} (it answers error 1040). New sessions, sysbench's included, go to the one
 * backend left with no error; sessions the rebalancer tries to move onto a refusing backend stay where
 * they are, unnoticed. Slow (three servers and sysbench tables): runs with {@code -Dtiproxy.it=true}.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class RefusingBackendTest {
    private static final Logger log = LoggerFactory.getLogger(RefusingBackendTest.class);
    private static final int TABLES = 4;
    private static final int TABLE_SIZE = 2000;

    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.startNew("refuse", 3);
        Sysbench.prepareOnEach(cluster.servers(), TABLES, TABLE_SIZE);
        // interval 0: no health checks, every backend counts as healthy
        proxy = TestProxy.start(cluster.addresses(), "", TestProxy.SERVICE_ACCOUNT + "health-check:\n  interval: 0\n");
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
    void newSessionsGoToTheBackendThatAccepts() throws Exception {
        MariaDbServer open = cluster.server(0);
        MariaDbServer stopped = cluster.server(1);
        MariaDbServer full = cluster.server(2);
        SessionLeakCheck leaks = SessionLeakCheck.baseline(proxy);
        List<Connection> fillers = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        int sessions = 0;
        SysbenchLoad.Totals totals;
        stopped.stop();
        try {
            fill(full, fillers);
            SysbenchLoad load = SysbenchLoad.start(proxy.port(), TABLES, TABLE_SIZE, 4,
                    Duration.ofSeconds(10).plus(ChaosSettings.duration()), Set.of(1213));
            try {
                long until = System.nanoTime() + Duration.ofSeconds(8).plus(ChaosSettings.duration()).toNanos();
                while (System.nanoTime() < until || sessions < 30) {
                    try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER,
                            TestAccounts.APP_PASSWORD)) {
                        int port = StatefulSessions.backendPort(c);
                        if (port != open.port()) {
                            problems.add("session " + sessions + " landed on port " + port);
                        }
                    } catch (SQLException e) {
                        problems.add("session " + sessions + ": " + e.getErrorCode() + " " + e.getMessage());
                    }
                    sessions++;
                    leaks.watchOpenSessions();
                    Thread.sleep(100);
                }
                assertThat(proxy.server().router().healthyBackends())
                        .as("the proxy never learned that two backends refuse (no health checks)")
                        .contains(stopped.address(), full.address());
            } finally {
                totals = load.stop();
            }
        } finally {
            for (Connection c : fillers) {
                c.close();
            }
            full.execAsAdmin("SET GLOBAL max_connections = 1000");
            stopped.restart();
        }
        log.info("chaos: sysbench {}", totals);
        assertThat(problems).as("new sessions that failed or went to a refusing backend").isEmpty();
        assertThat(totals.problems()).as("sysbench runs that failed").isEmpty();
        assertThat(totals.reconnects()).as("sysbench reconnects").isZero();
        assertThat(totals.ignoredByCode().keySet()).as("error codes sysbench ignored").isSubsetOf(1213);
        ProxyCounters counters = ProxyCounters.read(proxy);
        assertThat(counters.disconnectionsNotByClient()).as("sessions the proxy ended: " + counters.disconnections()).isZero();
        SessionLeakCheck.Report report = leaks.assertReturnedToNormal(Duration.ofSeconds(60));
        log.info("chaos: with one backend stopped and one at max_connections: {} new sessions and sysbench's 4, "
                + "all on the third, 0 errors; failed (unnoticed) rebalance migrations {}; {}", sessions,
                counters.migrations("fail"), report);
    }

    /** Lowers max_connections to its minimum and holds connections until the server answers 1040. */
    private static void fill(MariaDbServer server, List<Connection> fillers) throws SQLException {
        server.execAsAdmin("SET GLOBAL max_connections = 10");
        for (int i = 0; i < 50; i++) {
            try {
                fillers.add(server.rootConnection());
            } catch (SQLException e) {
                assertThat(e.getErrorCode()).as("filling " + server + ": " + e.getMessage()).isEqualTo(1040);
                return;
            }
        }
        throw new IllegalStateException(server + " still accepts connections after 50 (max_connections 10)");
    }
}
