package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every common command relayed through the proxy to real MariaDB servers, with MariaDB Connector/J. */
class MariaDbDriverPassThroughTest {
    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.shared();
        proxy = TestProxy.start(cluster.addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static Connection connect(String options) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(options), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    static long scalar(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertThat(rs.next()).isTrue();
            return rs.getLong(1);
        }
    }

    @Test
    void logsInAndReachesARealBackend() throws Exception {
        Set<Integer> ids = cluster.servers().stream().map(MariaDbServer::serverId).collect(Collectors.toSet());
        try (Connection c = connect("")) {
            assertThat((int) scalar(c, "SELECT @@server_id")).isIn(ids);
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT CURRENT_USER(), DATABASE()")) {
                rs.next();
                assertThat(rs.getString(1)).isEqualTo("app@%");
                assertThat(rs.getString(2)).isEqualTo("test");
            }
            assertThat(c.isValid(2)).isTrue();
        }
    }

    @Test
    void newSessionsSpreadOverBackends() throws Exception {
        Set<Long> seen = new HashSet<>();
        Connection[] conns = new Connection[6];
        try {
            for (int i = 0; i < conns.length; i++) {
                conns[i] = connect("");
                seen.add(scalar(conns[i], "SELECT @@server_id"));
            }
        } finally {
            for (Connection c : conns) {
                if (c != null) {
                    c.close();
                }
            }
        }
        assertThat(seen).hasSize(cluster.size());
    }

    @Test
    void wrongPasswordGetsTheBackendsAccessDenied() {
        assertThatThrownBy(() -> DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, "wrong"))
                .isInstanceOfSatisfying(SQLException.class, e -> {
                    assertThat(e.getErrorCode()).isEqualTo(1045);
                    assertThat(e.getMessage()).contains("Access denied for user 'app'");
                });
    }

    @Test
    void ed25519UserLogsInWithItsOwnPassword() throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.ED25519_USER, TestAccounts.ED25519_PASSWORD)) {
            assertThat(scalar(c, "SELECT 42")).isEqualTo(42);
        }
        assertThatThrownBy(() -> DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.ED25519_USER, "nope"))
                .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1045));
    }

    @Test
    void multiStatementsReturnEveryResult() throws Exception {
        try (Connection c = connect("allowMultiQueries=true"); Statement s = c.createStatement()) {
            assertThat(s.execute("SELECT 1; DO 0; SELECT 2, 3; SELECT 'x' FROM DUAL WHERE 1=0")).isTrue();
            ResultSet rs = s.getResultSet();
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(1);
            assertThat(s.getMoreResults()).isFalse();
            assertThat(s.getUpdateCount()).isEqualTo(0);
            assertThat(s.getMoreResults()).isTrue();
            rs = s.getResultSet();
            rs.next();
            assertThat(rs.getInt(2)).isEqualTo(3);
            assertThat(s.getMoreResults()).isTrue();
            assertThat(s.getResultSet().next()).isFalse();
            assertThat(scalar(c, "SELECT 7")).isEqualTo(7);
        }
    }

    @Test
    void serverSidePreparedStatementsWork() throws Exception {
        try (Connection c = connect("useServerPrepStmts=true"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS ps_t (id INT PRIMARY KEY, v VARCHAR(20))");
            s.execute("DELETE FROM ps_t");
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO ps_t VALUES (?, ?)")) {
                for (int i = 0; i < 50; i++) {
                    ins.setInt(1, i);
                    ins.setString(2, "v" + i);
                    ins.executeUpdate();
                }
            }
            try (PreparedStatement q = c.prepareStatement("SELECT v FROM ps_t WHERE id >= ? ORDER BY id")) {
                q.setInt(1, 45);
                try (ResultSet rs = q.executeQuery()) {
                    int n = 0;
                    while (rs.next()) {
                        assertThat(rs.getString(1)).isEqualTo("v" + (45 + n));
                        n++;
                    }
                    assertThat(n).isEqualTo(5);
                }
            }
        }
    }

    @Test
    void twentyMebibyteBlobRoundTrips() throws Exception {
        cluster.servers().forEach(s -> s.execAsAdmin("SET GLOBAL max_allowed_packet=67108864"));
        byte[] blob = new byte[20 * 1024 * 1024 + 7];
        new Random(42).nextBytes(blob);
        for (String opts : new String[] {"useServerPrepStmts=false", "useServerPrepStmts=true"}) {
            try (Connection c = connect(opts); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS blob_t (id INT PRIMARY KEY, b LONGBLOB)");
                s.execute("DELETE FROM blob_t");
                try (PreparedStatement ins = c.prepareStatement("INSERT INTO blob_t VALUES (1, ?)")) {
                    ins.setBytes(1, blob);
                    ins.executeUpdate();
                }
                try (ResultSet rs = s.executeQuery("SELECT b, LENGTH(b) FROM blob_t WHERE id = 1")) {
                    rs.next();
                    assertThat(rs.getLong(2)).isEqualTo(blob.length);
                    assertThat(Arrays.equals(rs.getBytes(1), blob)).as("blob bytes (" + opts + ")").isTrue();
                }
                assertThat(scalar(c, "SELECT 5")).isEqualTo(5);
            }
        }
    }

    @Test
    void loadDataLocalInfileUploadsTheFile(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path file = dir.resolve("rows.csv");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            sb.append(i).append(",name").append(i).append('\n');
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        try (Connection c = connect("allowLocalInfile=true"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS infile_t (id INT PRIMARY KEY, name VARCHAR(20))");
            s.execute("DELETE FROM infile_t");
            int n = s.executeUpdate("LOAD DATA LOCAL INFILE '" + file + "' INTO TABLE infile_t FIELDS TERMINATED BY ','");
            assertThat(n).isEqualTo(1000);
            assertThat(scalar(c, "SELECT COUNT(*) FROM infile_t")).isEqualTo(1000);
            assertThat(scalar(c, "SELECT SUM(id) FROM infile_t")).isEqualTo(999L * 1000 / 2);
        }
    }

    @Test
    void resetConnectionClearsSessionState() throws Exception {
        try (Connection c = connect("useResetConnection=true"); Statement s = c.createStatement()) {
            s.execute("SET @x = 5");
            assertThat(scalar(c, "SELECT @x")).isEqualTo(5);
            c.unwrap(org.mariadb.jdbc.Connection.class).reset();
            try (ResultSet rs = c.createStatement().executeQuery("SELECT @x IS NULL")) {
                rs.next();
                assertThat(rs.getBoolean(1)).isTrue();
            }
        }
    }

    @Test
    void transactionsCommitAndRollBack() throws Exception {
        try (Connection c = connect(""); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS tx_t (id INT PRIMARY KEY)");
            s.execute("DELETE FROM tx_t");
            c.setAutoCommit(false);
            s.execute("INSERT INTO tx_t VALUES (1)");
            c.rollback();
            s.execute("INSERT INTO tx_t VALUES (2)");
            c.commit();
            c.setAutoCommit(true);
            assertThat(scalar(c, "SELECT GROUP_CONCAT(id) FROM tx_t")).isEqualTo(2);
        }
    }

    @Test
    void sqlErrorsReachTheClientAndTheSessionContinues() throws Exception {
        try (Connection c = connect(""); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.executeQuery("SELECT * FROM no_such_table"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1146));
            assertThat(scalar(c, "SELECT 3")).isEqualTo(3);
        }
    }

    @Test
    void largeResultSetStreamsCompletely() throws Exception {
        try (Connection c = connect(""); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000")) {
            long sum = 0;
            int n = 0;
            while (rs.next()) {
                sum += rs.getLong(1);
                n++;
            }
            assertThat(n).isEqualTo(200000);
            assertThat(sum).isEqualTo(200000L * 200001 / 2);
        }
    }
}
