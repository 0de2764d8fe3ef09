package io.tiproxy.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/** Slow (a three-node cluster forms in ~20 s): runs with -Dtiproxy.it=true, as scripts/test.sh sets. */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class GaleraClusterTest {
    private static GaleraCluster galera;

    @BeforeAll
    static void startCluster() {
        galera = GaleraCluster.start("galera-test");
    }

    @AfterAll
    static void stopCluster() {
        if (galera != null) {
            galera.close();
        }
    }

    @Test
    void nodeRejoinsAfterStopAndSeesWritesMadeWhileAway() throws SQLException {
        for (int i = 0; i < 3; i++) {
            assertThat(galera.isSynced(i)).as("node %d synced", i).isTrue();
        }

        execAsApp(galera.node(0), "CREATE TABLE test.g (id INT PRIMARY KEY, v VARCHAR(20))",
                "INSERT INTO test.g VALUES (1, 'from-node-1')");
        assertThat(countAsApp(galera.node(1), "SELECT COUNT(*) FROM test.g WHERE id = 1")).isEqualTo(1);
        assertThat(countAsApp(galera.node(2), "SELECT COUNT(*) FROM test.g WHERE id = 1")).isEqualTo(1);

        galera.stopNode(1);
        assertThat(galera.isSynced(1)).isFalse();
        execAsApp(galera.node(0), "INSERT INTO test.g VALUES (2, 'while-2-away')");
        galera.startNode(1);

        assertThat(galera.isSynced(1)).isTrue();
        assertThat(countAsApp(galera.node(1), "SELECT COUNT(*) FROM test.g")).isEqualTo(2);
        execAsApp(galera.node(1), "INSERT INTO test.g VALUES (3, 'from-node-2')");
        assertThat(countAsApp(galera.node(2), "SELECT COUNT(*) FROM test.g")).isEqualTo(3);
    }

    private static void execAsApp(MariaDbServer node, String... sql) throws SQLException {
        try (Connection conn = DriverManager.getConnection(node.jdbcUrl(),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD); Statement stmt = conn.createStatement()) {
            for (String s : sql) {
                stmt.execute(s);
            }
        }
    }

    /** Galera applies writes on other nodes asynchronously: wait for causality before reading. */
    private static long countAsApp(MariaDbServer node, String sql) throws SQLException {
        try (Connection conn = DriverManager.getConnection(node.jdbcUrl(),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD); Statement stmt = conn.createStatement()) {
            stmt.execute("SET SESSION wsrep_sync_wait = 1");
            try (ResultSet rs = stmt.executeQuery(sql)) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }
}
