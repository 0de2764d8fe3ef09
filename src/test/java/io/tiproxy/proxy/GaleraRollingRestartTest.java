package io.tiproxy.proxy;

import io.tiproxy.testkit.GaleraCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A 3-node Galera cluster behind the proxy; each node in turn is drained, stopped and restarted while
 * writers insert through the proxy. No client sees an error and every acknowledged commit is on every
 * node at the end. Slow (~1 min): runs with -Dtiproxy.it=true, as scripts/test.sh sets.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class GaleraRollingRestartTest {
    static GaleraCluster galera;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        galera = GaleraCluster.start("galmig");
        galera.node(0).execAsAdmin("CREATE TABLE IF NOT EXISTS test.acks (id BIGINT PRIMARY KEY, writer INT) ENGINE=InnoDB");
        proxy = TestProxy.startMigratable(galera.addresses());
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
    void rollingRestartLosesNoAcknowledgedCommitAndNoClientSeesAnError() throws Exception {
        Set<Long> acked = ConcurrentHashMap.newKeySet();
        List<String> errors = new CopyOnWriteArrayList<>();
        AtomicBoolean running = new AtomicBoolean(true);
        List<Thread> writers = new ArrayList<>();
        for (int w = 0; w < 4; w++) {
            final int writer = w;
            Thread t = new Thread(() -> write(writer, running, acked, errors), "writer-" + w);
            t.start();
            writers.add(t);
        }
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> acked.size() > 50);
            for (int i = 0; i < 3; i++) {
                MariaDbServer node = galera.node(i);
                assertThat(proxy.api("POST", "/api/backends/" + node.address() + "/drain").status()).isEqualTo(200);
                await().atMost(Duration.ofSeconds(20))
                        .until(() -> proxy.server().router().sessionCount(node.address()) == 0);
                galera.stopNode(i);
                long before = acked.size();
                await().atMost(Duration.ofSeconds(20)).until(() -> acked.size() > before + 20);
                galera.startNode(i);
                assertThat(galera.isSynced(i)).isTrue();
                assertThat(proxy.api("DELETE", "/api/backends/" + node.address() + "/drain").status()).isEqualTo(200);
            }
            long before = acked.size();
            await().atMost(Duration.ofSeconds(20)).until(() -> acked.size() > before + 20);
        } finally {
            running.set(false);
            for (Thread t : writers) {
                t.join(30_000);
            }
        }
        assertThat(errors).as("client errors").isEmpty();
        assertThat(proxy.server().migrationsSucceeded()).isGreaterThanOrEqualTo(3);
        List<Long> expected = new ArrayList<>(acked);
        Collections.sort(expected);
        for (MariaDbServer node : galera.nodes()) {
            try (Connection c = DriverManager.getConnection("jdbc:mariadb://127.0.0.1:" + node.port() + "/test",
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                 Statement s = c.createStatement()) {
                s.execute("SET SESSION wsrep_sync_wait = 1");
                Set<Long> present = ConcurrentHashMap.newKeySet();
                try (ResultSet rs = s.executeQuery("SELECT id FROM acks")) {
                    while (rs.next()) {
                        present.add(rs.getLong(1));
                    }
                }
                List<Long> missing = expected.stream().filter(id -> !present.contains(id)).toList();
                assertThat(missing).as("acknowledged commits missing on " + node.address()).isEmpty();
            }
        }
    }

    /** Inserts rows through the proxy, half in autocommit, half in two-row transactions; records each acknowledged id. */
    private static void write(int writer, AtomicBoolean running, Set<Long> acked, List<String> errors) {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             PreparedStatement ins = c.prepareStatement("INSERT INTO acks VALUES (?, ?)")) {
            c.createStatement().execute("SET @writer = " + writer);
            long next = writer * 10_000_000L;
            while (running.get()) {
                try {
                    if (next % 2 == 0) {
                        ins.setLong(1, next);
                        ins.setInt(2, writer);
                        ins.executeUpdate();
                        acked.add(next);
                        next++;
                    } else {
                        c.setAutoCommit(false);
                        for (long id = next; id < next + 2; id++) {
                            ins.setLong(1, id);
                            ins.setInt(2, writer);
                            ins.executeUpdate();
                        }
                        c.commit();
                        c.setAutoCommit(true);
                        acked.add(next);
                        acked.add(next + 1);
                        next += 3; // keeps the autocommit/transaction alternation
                    }
                    Thread.sleep(2);
                } catch (SQLException e) {
                    errors.add("writer " + writer + ": " + e.getErrorCode() + " " + e.getMessage());
                    next += 3;
                    try {
                        c.setAutoCommit(true);
                    } catch (SQLException ignored) {
                        // the next statement reports it
                    }
                }
            }
            try (ResultSet rs = c.createStatement().executeQuery("SELECT @writer")) {
                rs.next();
                if (rs.getInt(1) != writer) {
                    errors.add("writer " + writer + ": user variable lost");
                }
            }
        } catch (Exception e) {
            errors.add("writer " + writer + ": " + e);
        }
    }
}
