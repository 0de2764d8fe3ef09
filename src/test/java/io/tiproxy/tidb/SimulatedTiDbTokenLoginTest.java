package io.tiproxy.tidb;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The simulation itself, checked against TIDB-FACTS.md without the proxy: tokens signed with RSA
 * (PKCS#1 v1.5 and PSS), ECDSA and Ed25519 certificates, checked on another TiDB; expiry, username
 * and certificate mismatch give error 1045; SHOW SESSION_STATES answers by column name or 8146.
 */
class SimulatedTiDbTokenLoginTest {
    @TempDir
    Path dir;
    final List<SimulatedTiDb> tidbs = new ArrayList<>();

    @AfterEach
    void stop() {
        tidbs.forEach(SimulatedTiDb::close);
    }

    SimulatedTiDb tidb(int server, SimulatedTiDbSigningCert cert) throws Exception {
        SimulatedTiDb t = new SimulatedTiDb("t" + tidbs.size(), MariaDbCluster.shared().servers().get(server));
        if (cert != null) {
            t.loadSigningCert(cert);
        }
        tidbs.add(t);
        return t;
    }

    static Connection connect(SimulatedTiDb t) throws SQLException {
        return DriverManager.getConnection("jdbc:mariadb://" + t.address() + "/" + TestAccounts.DATABASE,
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    static byte[] token(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW SESSION_STATES")) {
            rs.next();
            String token = rs.getString("Session_token");
            assertThat(rs.getString("Session_states")).startsWith("{");
            return token == null ? null : token.getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Logs in with plugin tidb_session_token, the token as length-encoded auth data (TIDB-FACTS "Migration exchange" 2). */
    static RawMySqlClient.Packet tokenLogin(SimulatedTiDb t, String user, byte[] token) throws Exception {
        try (RawMySqlClient raw = new RawMySqlClient(t.port(), 5000)) {
            raw.read(); // greeting
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            long caps = SimulatedTiDb.CLIENT_PROTOCOL_41 | SimulatedTiDb.CLIENT_SECURE_CONNECTION
                    | SimulatedTiDb.CLIENT_PLUGIN_AUTH | SimulatedTiDb.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
                    | SimulatedTiDb.CLIENT_LONG_PASSWORD | SimulatedTiDb.CLIENT_DEPRECATE_EOF;
            b.writeBytes(new byte[] {(byte) caps, (byte) (caps >> 8), (byte) (caps >> 16), (byte) (caps >> 24)});
            b.writeBytes(new byte[] {0, 0, 0, 1, 46});
            b.writeBytes(new byte[23]);
            b.writeBytes(user.getBytes(StandardCharsets.UTF_8));
            b.write(0);
            b.write(0xfc); // tokens are > 250 bytes
            b.write(token.length);
            b.write(token.length >> 8);
            b.writeBytes(token);
            b.writeBytes("tidb_session_token".getBytes(StandardCharsets.UTF_8));
            b.write(0);
            raw.write(1, b.toByteArray());
            RawMySqlClient.Packet reply = raw.read();
            if (reply.isOk()) {
                RawMySqlClient.Packet q = raw.query("SELECT 1");
                assertThat(q.isErr()).isFalse();
            }
            return reply;
        }
    }

    /** Fact "Session token": every key type of the signing certificate; OK directly, no auth switch. */
    @ParameterizedTest
    @EnumSource(SimulatedTiDbSigningCert.Kind.class)
    void tokenFromOneTiDbLogsInOnAnotherWithTheSameCertificate(SimulatedTiDbSigningCert.Kind kind) throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(dir, kind);
        SimulatedTiDb a = tidb(0, cert);
        SimulatedTiDb b = tidb(1, cert);
        try (Connection c = connect(a)) {
            byte[] token = token(c);
            assertThat(new String(token, StandardCharsets.UTF_8)).contains("\"username\":\"app\"", "\"sign-time\"",
                    "\"expire-time\"", "\"signature\"");
            assertThat(tokenLogin(b, "app", token).isOk()).isTrue();
            assertThat(tokenLogin(b, "APP", token).isOk()).as("username compared ignoring case").isTrue();
        }
    }

    /** Fact "Session token": a certificate the checking TiDB never loaded -> 1045. */
    @ParameterizedTest
    @EnumSource(SimulatedTiDbSigningCert.Kind.class)
    void tokenSignedWithAnotherCertificateIsRefused(SimulatedTiDbSigningCert.Kind kind) throws Exception {
        SimulatedTiDb a = tidb(0, SimulatedTiDbSigningCert.generate(dir.resolve("a"), kind));
        SimulatedTiDb b = tidb(1, SimulatedTiDbSigningCert.generate(dir.resolve("b"), kind));
        try (Connection c = connect(a)) {
            RawMySqlClient.Packet reply = tokenLogin(b, "app", token(c));
            assertThat(reply.errorCode()).isEqualTo(1045);
        }
    }

    /** Fact "Session token": expire-time = sign-time + 1 minute; after it -> 1045. */
    @Test
    void expiredTokenIsRefused() throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.RSA);
        SimulatedTiDb a = tidb(0, cert);
        SimulatedTiDb b = tidb(1, cert);
        b.tokens().setClock(Clock.offset(Clock.systemUTC(), Duration.ofSeconds(61)));
        try (Connection c = connect(a)) {
            assertThat(tokenLogin(b, "app", token(c)).errorCode()).isEqualTo(1045);
        }
    }

    /** Fact "Session token": token username must equal the handshake username -> else 1045. */
    @Test
    void tokenOfAnotherUserIsRefused() throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.ED25519);
        SimulatedTiDb a = tidb(0, cert);
        SimulatedTiDb b = tidb(1, cert);
        try (Connection c = connect(a)) {
            assertThat(tokenLogin(b, TestAccounts.ADMIN_USER, token(c)).errorCode()).isEqualTo(1045);
        }
    }

    /** Fact "Migration exchange" 1: without a certificate, newer TiDB answers a NULL token, older fails with 8146. */
    @Test
    void withoutCertificateTheTokenIsNullOrTheQueryFails() throws Exception {
        SimulatedTiDb t = tidb(0, null);
        try (Connection c = connect(t)) {
            assertThat(token(c)).isNull();
            t.setWithoutCertificate(SimulatedTiDb.WithoutCertificate.ERROR_8146);
            assertThatThrownBy(() -> token(c)).isInstanceOfSatisfying(SQLException.class, e -> {
                assertThat(e.getErrorCode()).isEqualTo(8146);
                assertThat(e.getMessage()).contains("cannot migrate the current session: no certificate or key file to sign the data");
            });
        }
    }

    /** Fact "Migration exchange" 1: 8146 "active transaction". */
    @Test
    void showSessionStatesInsideATransactionFailsWith8146() throws Exception {
        SimulatedTiDb t = tidb(0, SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.RSA));
        try (Connection c = connect(t); Statement s = c.createStatement()) {
            s.execute("BEGIN");
            s.execute("SELECT 1");
            assertThatThrownBy(() -> token(c)).isInstanceOfSatisfying(SQLException.class, e -> {
                assertThat(e.getErrorCode()).isEqualTo(8146);
                assertThat(e.getMessage()).contains("cannot migrate the current session: active transaction");
            });
            s.execute("COMMIT");
            assertThat(token(c)).isNotNull();
        }
    }
}
