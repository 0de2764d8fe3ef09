package io.tiproxy.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.balance.observer.SimulatedTiDbStatusPort;
import io.tiproxy.discovery.EtcdClients;
import io.tiproxy.discovery.EtcdTopology;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
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
 * Discovery drives routing and migration end to end: real MariaDB backends appear in and vanish from a
 * real etcd laid out as PD's TiDB topology (TIDB-FACTS "Topology in PD's etcd"), a simulated TiDB status
 * port announces a graceful shutdown, and the proxy registers itself in the same etcd.
 */
class DiscoveryEndToEndTest {
    static final String TIDB = "/topology/tidb/";
    /** Checks every 500 ms, 2 failures to turn unhealthy: a status-port 500 is acted on within about a second. */
    static final String FAST_CHECKS = "health-check:\n  interval: \"500ms\"\n  timeout: \"1s\"\n  fail-threshold: 2\n";

    static MariaDbCluster cluster;
    static EtcdServer etcd;
    static Client client;
    static EtcdTopology topology;

    @BeforeAll
    static void start() throws Exception {
        cluster = MariaDbCluster.startNew("disc", 2);
        etcd = EtcdServer.start("disc");
        client = EtcdClients.connect(List.of(etcd.address()));
        topology = new EtcdTopology(client);
        topology.get("/warm-up"); // the client's first request also connects
    }

    @AfterAll
    static void stop() {
        client.close();
        etcd.close();
        cluster.close();
    }

    @BeforeEach
    void emptyTopology() throws Exception {
        topology.deleteAll();
    }

    /** Writes the keys a TiDB server would: info (no lease) and ttl (under a 45 s lease). */
    static void register(MariaDbServer s, int statusPort) throws Exception {
        topology.registerTidb(TIDB, s.address(), "{\"version\":\"v8.5.0\",\"ip\":\"127.0.0.1\",\"status_port\":"
                + statusPort + ",\"start_timestamp\":1,\"labels\":{}}", 45);
    }

    static TestProxy startProxy(String extraYaml) {
        return TestProxy.start(List.of(), "  pd-addrs: \"" + etcd.address() + "\"\n", TestProxy.SERVICE_ACCOUNT + extraYaml);
    }

    static long serverId(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    static Connection connect(TestProxy proxy) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    static long newSessionServerId(TestProxy proxy) throws SQLException {
        try (Connection c = connect(proxy)) {
            return serverId(c);
        }
    }

    static BackendState state(TestProxy proxy, MariaDbServer s) {
        BackendInfo info = proxy.server().observer().snapshot().get(s.address());
        return info == null ? null : info.state();
    }

    @Test
    void registeredBackendTakesNewSessionsWithinASecondAndADeletedTtlMovesItsSessionsAway() throws Exception {
        MariaDbServer a = cluster.server(0);
        MariaDbServer b = cluster.server(1);
        register(a, 0);
        try (TestProxy proxy = startProxy("")) {
            List<Connection> onA = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Connection c = connect(proxy);
                c.createStatement().execute("SET @i = " + i);
                assertThat(serverId(c)).isEqualTo(a.serverId());
                onA.add(c);
            }
            // a new backend registers: the next new session reaches it (it has the fewest sessions)
            register(b, 0);
            long registered = System.nanoTime(); // from the committed write: etcd's own fsync is not ours
            await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
                    .until(() -> newSessionServerId(proxy) == b.serverId());
            long millis = (System.nanoTime() - registered) / 1_000_000;
            assertThat(millis).as("registered in etcd -> a new session on it (issue: within 1 s)").isLessThan(1000);

            // a's ttl key vanishes (TiDB gone): its sessions move to b, with their state
            topology.delete(TIDB + a.address() + "/ttl");
            for (int i = 0; i < onA.size(); i++) {
                Connection c = onA.get(i);
                await().atMost(Duration.ofSeconds(15)).until(() -> serverId(c) == b.serverId());
                try (ResultSet rs = c.createStatement().executeQuery("SELECT @i")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(i);
                }
            }
            assertThat(state(proxy, a)).isEqualTo(BackendState.REMOVED);
            assertThat(proxy.server().router().sessionCount(a.address())).isZero();
            for (int i = 0; i < 6; i++) {
                assertThat(newSessionServerId(proxy)).as("no new session on a removed backend").isEqualTo(b.serverId());
            }
            for (Connection c : onA) {
                c.close();
            }
        }
    }

    /**
     * TIDB-FACTS "Status port": a TiDB shutting down gracefully answers {@code /status} with HTTP 500 while
     * its SQL port still accepts for {@code graceful-wait-before-shutdown}; then the SQL port closes. Here
     * the SQL side is a real MariaDB and the status side the simulation; the status port reaches the
     * proxy through the {@code info} JSON in etcd.
     */
    @Test
    void statusPort500DrainsStatefulSessionsWhileTheSqlPortStillAcceptsThenItCloses() throws Exception {
        MariaDbServer a = cluster.server(0);
        MariaDbServer b = cluster.server(1);
        try (SimulatedTiDbStatusPort statusA = new SimulatedTiDbStatusPort();
             SimulatedTiDbStatusPort statusB = new SimulatedTiDbStatusPort()) {
            register(a, statusA.port());
            register(b, statusB.port());
            try (TestProxy proxy = startProxy(FAST_CHECKS)) {
                await().atMost(Duration.ofSeconds(10)).until(() -> state(proxy, a) == BackendState.HEALTHY
                        && state(proxy, b) == BackendState.HEALTHY);
                assertThat(proxy.server().observer().snapshot().get(a.address()).statusPort()).isEqualTo(statusA.port());
                StatefulSessions sessions = StatefulSessions.start(proxy, 6, Duration.ofMillis(20));
                try {
                    sessions.awaitProgress(60, Duration.ofSeconds(30));
                    long onA = sessions.serverIds().stream().filter(id -> id == a.serverId()).count();
                    assertThat(onA).as("sessions on a before its shutdown").isGreaterThanOrEqualTo(2);
                    int migrationsBefore = proxy.server().migrationsSucceeded();

                    statusA.beginGracefulShutdown();
                    await().atMost(Duration.ofSeconds(20)).until(() -> proxy.server().router().sessionCount(a.address()) == 0
                            && sessions.serverIds().stream().allMatch(id -> id == b.serverId()));
                    sessions.awaitProgress(30, Duration.ofSeconds(30));
                    assertThat(state(proxy, a)).isEqualTo(BackendState.UNHEALTHY);
                    assertThat(proxy.server().observer().snapshot().get(a.address()).reason()).contains("HTTP 500");
                    assertThat(a.isRunning()).as("a's SQL port still accepts while its sessions leave").isTrue();
                    try (Connection direct = DriverManager.getConnection(a.jdbcUrl(), TestAccounts.APP_USER,
                            TestAccounts.APP_PASSWORD)) {
                        assertThat(serverId(direct)).isEqualTo(a.serverId());
                    }
                    assertThat(proxy.server().migrationsSucceeded() - migrationsBefore).isGreaterThanOrEqualTo((int) onA);
                    for (int i = 0; i < 4; i++) {
                        assertThat(newSessionServerId(proxy)).as("no new session on a").isEqualTo(b.serverId());
                    }

                    a.stop(); // graceful-wait-before-shutdown is over: the SQL port closes
                    sessions.awaitProgress(30, Duration.ofSeconds(30));
                } finally {
                    sessions.stop();
                }
                assertThat(sessions.errors()).as("client errors").isEmpty();
            }
        } finally {
            if (!a.isRunning()) {
                a.restart();
            }
        }
    }

    /** TIDB-FACTS: TiProxy registers itself under /topology/tiproxy/<ip>:<port>/info|ttl with a 45 s lease. */
    @Test
    void proxyRegistersItselfWithA45SecondLeaseAndDeregistersWhenItStops() throws Exception {
        register(cluster.server(0), 0);
        TestProxy proxy = startProxy("");
        String member = "/topology/tiproxy/127.0.0.1:" + proxy.port();
        long lease;
        try {
            await().atMost(Duration.ofSeconds(15)).until(() -> topology.get(member + "/ttl").isPresent());
            long nanos = Long.parseLong(topology.get(member + "/ttl").orElseThrow());
            assertThat(Math.abs(nanos / 1_000_000 - System.currentTimeMillis())).as("ttl value: Unix nanoseconds")
                    .isLessThan(60_000);
            lease = topology.leaseOf(member + "/ttl");
            assertThat(lease).as("ttl is under a lease").isNotZero();
            long[] ttl = topology.leaseTtl(lease);
            assertThat(ttl[1]).as("granted TTL").isEqualTo(45);
            assertThat(ttl[0]).isBetween(1L, 45L);
            assertThat(topology.leaseOf(member + "/info")).as("info has no lease, as in TiDB").isZero();
            JsonNode info = new ObjectMapper().readTree(topology.get(member + "/info").orElseThrow());
            assertThat(info.path("ip").asText()).isEqualTo("127.0.0.1");
            assertThat(info.path("status_port").asInt()).as("the API port").isEqualTo(proxy.apiPort());
            assertThat(info.has("version")).isTrue();
            assertThat(Math.abs(info.path("start_timestamp").asLong() - System.currentTimeMillis() / 1000))
                    .as("start_timestamp: Unix seconds").isLessThan(600);
        } finally {
            proxy.close(); // graceful: deregisters before it returns
        }
        assertThat(topology.get(member + "/ttl")).isEmpty();
        assertThat(topology.get(member + "/info")).isEmpty();
        assertThat(topology.leaseTtl(lease)[0]).as("lease revoked").isEqualTo(-1);
    }
}
