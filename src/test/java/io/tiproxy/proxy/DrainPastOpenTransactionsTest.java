package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A drain under a cap of two migrations in flight, where the two oldest sessions (asked first) sit in
 * open transactions: they say they wait for a safe point and hold no slot, so the idle sessions behind
 * them move at once instead of after the router's 15 s timeout; the two follow right after their commit.
 */
class DrainPastOpenTransactionsTest {

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Reads an InnoDB table: with autocommit off, that is what opens a transaction (SELECT @@x does not). */
    static long serverIdInTransaction(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT @@server_id FROM drain_tx WHERE id = 1")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    @Test
    void idleSessionsLeaveWhileTheOldestWaitForTheirTransactionsToEnd() throws Exception {
        MariaDbCluster cluster = MariaDbCluster.shared();
        MariaDbServer from = cluster.server(0);
        MariaDbServer to = cluster.server(1);
        for (MariaDbServer s : List.of(from, to)) {
            s.execAsAdmin("CREATE TABLE IF NOT EXISTS " + TestAccounts.DATABASE + ".drain_tx (id INT PRIMARY KEY) ENGINE=InnoDB",
                    "INSERT IGNORE INTO " + TestAccounts.DATABASE + ".drain_tx VALUES (1)");
        }
        String yaml = TestProxy.SERVICE_ACCOUNT
                + "balance:\n  max-concurrent-migrations: 2\n  conn-count: { migrations-per-second: 0 }\n";
        List<Connection> inTransaction = new ArrayList<>();
        List<Connection> idle = new ArrayList<>();
        try (TestProxy proxy = TestProxy.start(List.of(from.address(), to.address()), "", yaml)) {
            assertThat(proxy.server().drain(to.address())).isTrue(); // every new session goes to `from`
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().router().healthyBackends()
                    .equals(List.of(from.address())));
            for (int i = 0; i < 2; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                c.setAutoCommit(false);
                assertThat(serverIdInTransaction(c)).isEqualTo(from.serverId()); // the transaction is open from here on
                inTransaction.add(c);
            }
            for (int i = 0; i < 4; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                try (Statement s = c.createStatement()) {
                    s.execute("SET @idle = " + i);
                }
                assertThat(serverId(c)).isEqualTo(from.serverId());
                idle.add(c);
            }
            assertThat(proxy.server().undrain(to.address())).isTrue();
            assertThat(proxy.server().drain(from.address())).isTrue();

            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> { // the router gives up on a move after 15 s
                for (Connection c : idle) {
                    if (serverId(c) != to.serverId()) {
                        return false;
                    }
                }
                return true;
            });
            for (Connection c : inTransaction) {
                assertThat(serverIdInTransaction(c)).as("inside its transaction, still where it began").isEqualTo(from.serverId());
                c.commit();
            }
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(200)).until(() -> {
                for (Connection c : inTransaction) {
                    if (serverId(c) != to.serverId()) { // opens no transaction
                        return false;
                    }
                }
                return true;
            });
            for (int i = 0; i < idle.size(); i++) {
                try (Statement s = idle.get(i).createStatement(); ResultSet rs = s.executeQuery("SELECT @idle")) {
                    rs.next();
                    assertThat(rs.getInt(1)).as("user variable moved with session " + i).isEqualTo(i);
                }
            }
        } finally {
            for (Connection c : inTransaction) {
                c.close();
            }
            for (Connection c : idle) {
                c.close();
            }
        }
    }
}
