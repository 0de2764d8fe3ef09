package io.tiproxy.tidb;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * When the new TiDB refuses the session token (1045) or the old one cannot issue one, the migration is
 * refused: the session stays on its backend with its state and the client notices nothing
 * (TIDB-FACTS "Migration exchange" 4).
 */
class TiDbMigrationRefusedTest {
    @TempDir
    Path dir;
    final List<SimulatedTiDb> tidbs = new ArrayList<>();
    TestProxy proxy;

    @AfterEach
    void stop() {
        if (proxy != null) {
            proxy.close();
        }
        tidbs.forEach(SimulatedTiDb::close);
    }

    void start(SimulatedTiDbSigningCert certA, SimulatedTiDbSigningCert certB) throws Exception {
        MariaDbCluster cluster = MariaDbCluster.shared();
        tidbs.add(new SimulatedTiDb("a", cluster.servers().get(0)));
        tidbs.add(new SimulatedTiDb("b", cluster.servers().get(1)));
        if (certA != null) {
            tidbs.get(0).loadSigningCert(certA);
        }
        if (certB != null) {
            tidbs.get(1).loadSigningCert(certB);
        }
        proxy = TestProxy.start(tidbs.stream().map(SimulatedTiDb::address).toList());
    }

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); var rs = s.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Connects, sets state, lets {@code breakTarget} spoil the other TiDB, redirects, checks nothing moved. */
    void refusedMoveKeepsTheSession(Consumer<SimulatedTiDb> breakTarget, boolean targetSeesTokenLogin) throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Statement s = c.createStatement()) {
            s.execute("SET @kept = 'still here'");
            long home = serverId(c);
            SimulatedTiDb target = tidbs.stream().filter(t -> t.backend().serverId() != home).findFirst().orElseThrow();
            breakTarget.accept(target);
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            if (targetSeesTokenLogin) {
                await().atMost(Duration.ofSeconds(10)).until(() -> target.rejectedTokenLogins() > 0);
            } else {
                Thread.sleep(1500);
            }
            for (int i = 0; i < 20; i++) {
                assertThat(serverId(c)).isEqualTo(home);
                try (var rs = s.executeQuery("SELECT @kept")) {
                    rs.next();
                    assertThat(rs.getString(1)).isEqualTo("still here");
                }
                Thread.sleep(50);
            }
            assertThat(target.acceptedTokenLogins()).isZero();
        }
    }

    /** Fact "Session token": signature by a certificate the new TiDB has -> else 1045; TiDBs must share the pair. */
    @Test
    void certificateMismatchBetweenBackendsRefusesTheMove() throws Exception {
        start(SimulatedTiDbSigningCert.generate(dir.resolve("a"), SimulatedTiDbSigningCert.Kind.RSA),
                SimulatedTiDbSigningCert.generate(dir.resolve("b"), SimulatedTiDbSigningCert.Kind.RSA));
        refusedMoveKeepsTheSession(t -> { }, true);
    }

    /** Fact "Session token": now <= expire-time (sign-time + 1 minute); a TiDB whose clock is ahead refuses. */
    @Test
    void expiredTokenRefusesTheMove() throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.ECDSA);
        start(cert, cert);
        refusedMoveKeepsTheSession(t -> t.tokens().setClock(Clock.offset(Clock.systemUTC(), Duration.ofMinutes(2))), true);
    }

    /** Fact "Session token": token username equals the handshake username (ignoring case), else 1045. */
    @Test
    void tokenOfAnotherUserRefusesTheMove() throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.ED25519);
        start(cert, cert);
        tidbs.forEach(t -> t.issueTokensFor(TestAccounts.ADMIN_USER));
        refusedMoveKeepsTheSession(t -> { }, true);
    }

    /** Fact "Migration exchange" 1: NULL Session_token (no signing certificate) means this backend cannot migrate. */
    @Test
    void backendWithoutCertificateKeepsItsSessions() throws Exception {
        start(null, null);
        refusedMoveKeepsTheSession(t -> { }, false);
    }

    /** Fact "Migration exchange" 1: older TiDB without certificate fails with 8146 "no certificate or key file...". */
    @Test
    void olderBackendWithoutCertificateKeepsItsSessions() throws Exception {
        start(null, null);
        tidbs.forEach(t -> t.setWithoutCertificate(SimulatedTiDb.WithoutCertificate.ERROR_8146));
        refusedMoveKeepsTheSession(t -> { }, false);
    }
}
