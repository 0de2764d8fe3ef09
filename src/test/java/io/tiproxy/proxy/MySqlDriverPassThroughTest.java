package io.tiproxy.proxy;

import com.mysql.cj.jdbc.JdbcConnection;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The proxy relays MySQL Connector/J's protocol use: cursors, long data, change user, reset. */
class MySqlDriverPassThroughTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static Connection connect(String options) throws SQLException {
        return DriverManager.getConnection(proxy.mysqlUrl(options), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    @Test
    void serverSideCursorFetchesAllRowsInBatches() throws Exception {
        try (Connection c = connect("useServerPrepStmts=true&useCursorFetch=true&defaultFetchSize=7")) {
            try (PreparedStatement ps = c.prepareStatement("SELECT seq FROM seq_1_to_100 WHERE seq > ?")) {
                ps.setInt(1, 10);
                for (int round = 0; round < 2; round++) {
                    try (ResultSet rs = ps.executeQuery()) {
                        long sum = 0;
                        int n = 0;
                        while (rs.next()) {
                            sum += rs.getLong(1);
                            n++;
                        }
                        assertThat(n).isEqualTo(90);
                        assertThat(sum).isEqualTo(5050 - 55);
                    }
                }
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 9")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(9);
            }
        }
    }

    @Test
    void longDataIsSentWithSendLongData() throws Exception {
        byte[] data = new byte[3 * 1024 * 1024];
        new Random(7).nextBytes(data);
        try (Connection c = connect("useServerPrepStmts=true&blobSendChunkSize=65536"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS longdata_t (id INT PRIMARY KEY, b LONGBLOB)");
            s.execute("DELETE FROM longdata_t");
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO longdata_t VALUES (?, ?)")) {
                ps.setInt(1, 1);
                ps.setBinaryStream(2, new ByteArrayInputStream(data), data.length);
                ps.executeUpdate();
            }
            try (ResultSet rs = s.executeQuery("SELECT b FROM longdata_t WHERE id = 1")) {
                rs.next();
                assertThat(Arrays.equals(rs.getBytes(1), data)).isTrue();
            }
        }
    }

    @Test
    void changeUserSwitchesAccountsThroughTheBackendsChallenge() throws Exception {
        try (Connection c = connect("")) {
            JdbcConnection jc = c.unwrap(JdbcConnection.class);
            jc.changeUser(TestAccounts.ADMIN_USER, TestAccounts.ADMIN_PASSWORD);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT CURRENT_USER()")) {
                rs.next();
                assertThat(rs.getString(1)).startsWith(TestAccounts.ADMIN_USER + "@");
            }
            jc.changeUser(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT CURRENT_USER()")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo(TestAccounts.APP_USER + "@%");
            }
        }
    }

    @Test
    void resetServerStateSendsResetConnection() throws Exception {
        try (Connection c = connect("")) {
            try (Statement s = c.createStatement()) {
                s.execute("SET @v = 'kept?'");
            }
            c.unwrap(JdbcConnection.class).resetServerState();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @v IS NULL")) {
                rs.next();
                assertThat(rs.getBoolean(1)).isTrue();
            }
        }
    }

    @Test
    void preparedStatementsAndTextQueriesInterleave() throws Exception {
        try (Connection c = connect("useServerPrepStmts=true&cachePrepStmts=true")) {
            for (int i = 0; i < 20; i++) {
                try (PreparedStatement ps = c.prepareStatement("SELECT ? + 1")) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        assertThat(rs.getInt(1)).isEqualTo(i + 1);
                    }
                }
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT " + i)) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(i);
                }
            }
        }
    }
}
