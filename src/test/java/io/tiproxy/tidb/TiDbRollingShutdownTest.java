package io.tiproxy.tidb;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A rolling restart of three simulated TiDBs found through a real etcd, each shut down gracefully in turn
 * while sessions keep running statements through the proxy: not one client error, and every session keeps
 * its state. Facts checked:
 * <ul>
 *   <li>"Status port": graceful shutdown = {@code /status} 500 at once, the SQL port still accepting for
 *       {@code graceful-wait-before-shutdown}, then closed; idle sessions closed after their command;</li>
 *   <li>"Topology in PD's etcd": {@code info} with {@code status_port} and {@code ttl} under a lease; the
 *       prefix deleted on clean shutdown and written again on start;</li>
 *   <li>"Migration exchange" 1-4 and "Session states JSON": session variables, user variables, the current
 *       database and binary prepared statements (ids kept) move with the token login.</li>
 * </ul>
 * Through MariaDB Connector/J and MySQL Connector/J side by side. About 35 s.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class TiDbRollingShutdownTest {
    /** TiDB's graceful-wait-before-shutdown here: well above detection (300 ms checks) plus a move, even on a loaded machine. */
    static final Duration GRACEFUL_WAIT = Duration.ofSeconds(8);
    static final int SESSIONS_PER_DRIVER = 4;

    @TempDir
    static Path certDir;
    static SimulatedTiDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() throws Exception {
        MariaDbCluster.shared().servers().forEach(s -> s.execAsAdmin("CREATE DATABASE IF NOT EXISTS tidb_roll"));
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(certDir, SimulatedTiDbSigningCert.Kind.RSA);
        cluster = new SimulatedTiDbCluster("tidb-roll", List.of(cert, cert, cert));
        proxy = cluster.startProxy("");
        cluster.awaitAllHealthy();
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** One client session: its own state, checked by every statement it runs until told to stop. */
    static final class Worker implements Runnable {
        final int n;
        final String url;
        final Set<Long> serversSeen = ConcurrentHashMap.newKeySet();
        final AtomicInteger rounds = new AtomicInteger();
        final List<String> errors;
        final AtomicBoolean stop;
        private final CountDownLatch ready;

        Worker(int n, String url, List<String> errors, AtomicBoolean stop, CountDownLatch ready) {
            this.n = n;
            this.url = url;
            this.errors = errors;
            this.stop = stop;
            this.ready = ready;
        }

        @Override
        public void run() {
            String zone = String.format("+%02d:00", n);
            boolean set = false;
            try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                 Statement s = c.createStatement()) {
                s.execute("USE tidb_roll");
                s.execute("SET SESSION group_concat_max_len = " + (10_000 + n));
                s.execute("SET time_zone = '" + zone + "'");
                s.execute("SET @who = 'session " + n + "'");
                try (PreparedStatement ps = c.prepareStatement(
                        "SELECT ? + 1, DATABASE(), @who, @@group_concat_max_len, @@time_zone, @@server_id")) {
                    set = true;
                    ready.countDown();
                    for (int k = 0; !stop.get(); k++) {
                        ps.setInt(1, k);
                        try (ResultSet rs = ps.executeQuery()) {
                            rs.next();
                            String got = rs.getInt(1) + "|" + rs.getString(2) + "|" + rs.getString(3) + "|"
                                    + rs.getLong(4) + "|" + rs.getString(5);
                            String want = (k + 1) + "|tidb_roll|session " + n + "|" + (10_000 + n) + "|" + zone;
                            if (!got.equals(want)) {
                                errors.add("session " + n + " lost state: " + got + " instead of " + want);
                                return;
                            }
                            serversSeen.add(rs.getLong(6));
                        }
                        rounds.incrementAndGet();
                        Thread.sleep(20);
                    }
                }
            } catch (Exception e) {
                errors.add("session " + n + " (" + url + "): " + e);
            } finally {
                if (!set) {
                    ready.countDown(); // failed before its state was set: the error says why
                }
            }
        }
    }

    @Test
    void sessionsSurviveARollingGracefulShutdownOfEveryTiDb() throws Exception {
        List<String> errors = Collections.synchronizedList(new ArrayList<>());
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch ready = new CountDownLatch(2 * SESSIONS_PER_DRIVER);
        List<Worker> workers = new ArrayList<>();
        String prepared = "useServerPrepStmts=true&cachePrepStmts=false";
        for (int i = 0; i < SESSIONS_PER_DRIVER; i++) {
            workers.add(new Worker(workers.size(), proxy.mariadbUrl(prepared), errors, stop, ready));
            workers.add(new Worker(workers.size(), proxy.mysqlUrl(prepared), errors, stop, ready));
        }
        List<Thread> threads = new ArrayList<>();
        for (Worker w : workers) {
            Thread t = new Thread(w, "tidb-roll-session-" + w.n);
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        try {
            assertThat(ready.await(30, TimeUnit.SECONDS)).isTrue();
            assertThat(errors).isEmpty();
            int tokenLogins = 0;
            for (int i = 0; i < 3; i++) {
                SimulatedTiDb tidb = cluster.tidb(i);
                int roundsBefore = workers.stream().mapToInt(w -> w.rounds.get()).sum();
                tidb.beginGracefulShutdown(GRACEFUL_WAIT);
                // the proxy sees /status 500 and moves every session off while the SQL port still accepts
                assertThat(tidb.awaitStopped(GRACEFUL_WAIT.plus(Duration.ofSeconds(30)))).isTrue();
                assertThat(errors).as("client errors while " + tidb.name() + " shut down").isEmpty();
                tokenLogins += tidb.acceptedTokenLogins();
                SimulatedTiDb again = cluster.restart(i);
                await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                        .until(() -> "healthy".equals(SimulatedTiDbCluster.backendStates(proxy).get(again.address())));
                assertThat(workers.stream().mapToInt(w -> w.rounds.get()).sum())
                        .as("sessions kept running statements").isGreaterThan(roundsBefore);
            }
            Thread.sleep(500);
            stop.set(true);
            for (Thread t : threads) {
                t.join(30_000);
            }
            assertThat(errors).isEmpty();
            for (Worker w : workers) {
                // every TiDB went down once, so every session moved at least once
                assertThat(w.serversSeen).as("servers session " + w.n + " ran on").hasSizeGreaterThanOrEqualTo(2);
            }
            tokenLogins += cluster.tidbs().stream().mapToInt(SimulatedTiDb::acceptedTokenLogins).sum();
            assertThat(tokenLogins).isGreaterThanOrEqualTo(workers.size());
        } finally {
            stop.set(true);
        }
    }
}
