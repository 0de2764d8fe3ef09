package io.tiproxy.tidb;

import com.fasterxml.jackson.databind.JsonNode;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The readiness check end to end: three simulated TiDBs found through a real etcd, two with the shared
 * signing certificate and one without (its {@code /config} shows an empty
 * {@code security.session-token-signing-cert}, and it issues NULL tokens). Facts: "Status port"
 * ({@code GET /config}: empty certificate = this TiDB cannot take part in migration), "Topology in PD's
 * etcd" ({@code info.status_port} tells where to ask), "Migration exchange" 1 (what would go wrong).
 */
class TiDbReadinessEndToEndTest {
    @TempDir
    static Path certDir;
    static SimulatedTiDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() throws Exception {
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.generate(certDir, SimulatedTiDbSigningCert.Kind.ECDSA);
        cluster = new SimulatedTiDbCluster("tidb-ready", Arrays.asList(cert, cert, null));
        proxy = cluster.startProxy("");
        cluster.awaitAllHealthy();
    }

    @AfterAll
    static void stop() {
        if (cluster != null) {
            cluster.close();
        }
    }

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static String userVariable(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @home")) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The entries of {@code GET /api/sessions} of the sessions on {@code backend}. */
    static List<JsonNode> onBackend(String backend) throws Exception {
        return SimulatedTiDbCluster.sessions(proxy).values().stream()
                .filter(s -> backend.equals(s.path("backend").asText())).toList();
    }

    /**
     * Sessions on the TiDB without a certificate stay there, and no session moves to it; the others move
     * between the two TiDBs that have it. The TiDB without it never sees {@code SHOW SESSION_STATES} nor a
     * token login: the proxy knew from {@code /config} before trying. {@code /api/sessions} says why.
     */
    @Test
    void sessionsNeitherLeaveNorReachATiDbWithoutSigningCertificate() throws Exception {
        SimulatedTiDb withoutCert = cluster.tidb(2);
        long withoutCertId = withoutCert.backend().serverId();
        List<Connection> conns = new ArrayList<>();
        Map<Connection, Long> homes = new HashMap<>();
        try {
            for (int i = 0; i < 6; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER,
                        TestAccounts.APP_PASSWORD);
                conns.add(c);
                c.createStatement().execute("SET @home = 'session " + i + "'");
                homes.put(c, serverId(c));
            }
            List<Connection> stuck = conns.stream().filter(c -> homes.get(c) == withoutCertId).toList();
            List<Connection> movable = conns.stream().filter(c -> homes.get(c) != withoutCertId).toList();
            assertThat(stuck).as("new sessions reach every healthy TiDB").isNotEmpty();
            assertThat(movable).isNotEmpty();

            // the proxy read /config of the TiDB without a certificate: its sessions say why they cannot move
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(100)).until(() ->
                    onBackend(withoutCert.address()).stream().noneMatch(s -> s.path("migratable").asBoolean()));
            List<JsonNode> stuckEntries = onBackend(withoutCert.address());
            assertThat(stuckEntries).hasSize(stuck.size());
            for (JsonNode s : stuckEntries) {
                assertThat(s.path("not_migratable_reason").asText())
                        .contains(withoutCert.address()).contains("no session-token signing certificate");
            }
            for (SimulatedTiDb t : List.of(cluster.tidb(0), cluster.tidb(1))) {
                assertThat(onBackend(t.address())).allSatisfy(s -> assertThat(s.path("migratable").asBoolean()).isTrue());
            }

            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            for (Connection c : movable) {
                await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                        .until(() -> serverId(c) != homes.get(c));
                assertThat(serverId(c)).as("never moved to the TiDB without certificate").isNotEqualTo(withoutCertId);
            }
            for (int round = 0; round < 20; round++) {
                for (Connection c : stuck) {
                    assertThat(serverId(c)).isEqualTo(withoutCertId);
                }
                Thread.sleep(50);
            }
            for (int i = 0; i < conns.size(); i++) {
                assertThat(userVariable(conns.get(i))).isEqualTo("session " + i);
            }
            assertThat(withoutCert.sessionStatesShown()).as("SHOW SESSION_STATES on the TiDB without certificate").isZero();
            assertThat(withoutCert.acceptedTokenLogins() + withoutCert.rejectedTokenLogins())
                    .as("token logins tried on the TiDB without certificate").isZero();
            assertThat(withoutCert.configRequests()).isPositive();
        } finally {
            for (Connection c : conns) {
                c.close();
            }
        }
    }
}
