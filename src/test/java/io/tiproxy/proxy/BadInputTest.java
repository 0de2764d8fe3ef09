package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.RawMySqlClient.Packet;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Broken and hostile input: each bad session gets a MySQL error and ends; nobody else notices. */
class BadInputTest {
    static TestProxy proxy;
    /** A healthy session held open through every test, checked after each. */
    static Connection bystander;

    @BeforeAll
    static void start() throws SQLException {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "  handshake-timeout: \"1s\"\n", "");
        bystander = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    @AfterAll
    static void stop() throws SQLException {
        assertBystanderWorks();
        bystander.close();
        proxy.close();
    }

    static void assertBystanderWorks() throws SQLException {
        try (Statement s = bystander.createStatement(); ResultSet rs = s.executeQuery("SELECT 1 + 1")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(2);
        }
    }

    @Test
    void garbageHandshakeResponseGetsBadHandshakeError() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 5000)) {
            c.read();
            c.write(1, new byte[] {1, 2, 3, 4, 5});
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1043);
            assertThat(err.sequenceId()).isEqualTo(2);
            RawMySqlClient.expectClosed(c);
        }
        assertBystanderWorks();
    }

    @Test
    void oversizedHandshakePacketIsRefused() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 5000)) {
            c.read();
            c.writeRaw(RawMySqlClient.header(1 << 20, 1));
            c.writeRaw(new byte[1000]);
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1158);
            assertThat(err.errorMessage()).contains("exceeds the limit");
            RawMySqlClient.expectClosed(c);
        }
        assertBystanderWorks();
    }

    @Test
    void silentClientIsTimedOutWithAnError() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 10_000)) {
            c.read();
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1043);
            assertThat(err.errorMessage()).contains("timed out");
            RawMySqlClient.expectClosed(c);
        }
        assertBystanderWorks();
    }

    @Test
    void outOfOrderSequenceIsRefused() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 5000)) {
            Packet greeting = c.read();
            c.write(5, RawMySqlClient.handshakeResponse("app", "app-pass", RawMySqlClient.salt(greeting.payload()), null));
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1156);
        }
        assertBystanderWorks();
    }

    @Test
    void rawLoginWorksAndUnsupportedCommandGetsAnErrorButKeepsTheSession() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 5000)) {
            Packet ok = c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE);
            assertThat(ok.isOk()).as("login: " + (ok.isErr() ? ok.errorMessage() : "")).isTrue();
            c.write(0, new byte[] {0x12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}); // COM_BINLOG_DUMP
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1047);
            assertThat(err.errorMessage()).contains("COM_BINLOG_DUMP");
            Packet first = c.query("SELECT 1");
            assertThat(first.payload()).containsExactly(1); // column count 1
        }
    }

    @Test
    void commandWithNonZeroSequenceIsAProtocolError() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 5000)) {
            assertThat(c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, null).isOk()).isTrue();
            c.write(3, new byte[] {0x03, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1'});
            Packet err = c.read();
            assertThat(err.isErr()).isTrue();
            assertThat(err.errorCode()).isEqualTo(1156);
            RawMySqlClient.expectClosed(c);
        }
        assertBystanderWorks();
    }

    @Test
    void maxConnectionsRefusesWithError1040() throws Exception {
        try (TestProxy limited = TestProxy.start(MariaDbCluster.shared().addresses(), "  max-connections: 2\n", "");
             Connection a = DriverManager.getConnection(limited.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Connection b = DriverManager.getConnection(limited.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            assertThatThrownBy(() -> DriverManager.getConnection(limited.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD))
                    .isInstanceOfSatisfying(SQLException.class, e -> {
                        assertThat(e.getErrorCode()).isEqualTo(1040);
                        assertThat(e.getMessage()).contains("Too many connections");
                    });
            try (RawMySqlClient raw = new RawMySqlClient(limited.port(), 5000)) {
                Packet err = raw.read();
                assertThat(err.isErr()).isTrue();
                assertThat(err.sequenceId()).isZero();
                assertThat(err.errorCode()).isEqualTo(1040);
            }
            a.close();
            try (Connection again = DriverManager.getConnection(limited.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(again.isValid(2)).isTrue();
            }
            assertThat(b.isValid(2)).isTrue();
        }
    }

    @Test
    void unreachableBackendGetsAClearError() throws Exception {
        try (TestProxy dead = TestProxy.start(List.of("127.0.0.1:1"))) {
            assertThatThrownBy(() -> DriverManager.getConnection(dead.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD))
                    .isInstanceOfSatisfying(SQLException.class, e ->
                            assertThat(e.getMessage()).contains("Proxy cannot reach a backend").contains("127.0.0.1:1"));
        }
    }

    @Test
    void deadBackendIsSkippedWhenAnotherIsAlive() throws Exception {
        List<String> backends = new java.util.ArrayList<>(List.of("127.0.0.1:1"));
        backends.addAll(MariaDbCluster.shared().addresses());
        try (TestProxy mixed = TestProxy.start(backends)) {
            for (int i = 0; i < 4; i++) {
                try (Connection c = DriverManager.getConnection(mixed.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                    assertThat(c.isValid(2)).isTrue();
                }
            }
        }
    }
}
