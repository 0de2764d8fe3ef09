package io.tiproxy.proxy;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Discovery and health drive routing and migration end to end: backends appear and vanish in a real
 * etcd (PD's TiDB topology layout), a backend hung with SIGSTOP is avoided.
 */
class DiscoveryEndToEndTest {
    static MariaDbCluster cluster;
    static EtcdServer etcd;
    static Client client;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.startNew("disc", 2);
        etcd = EtcdServer.start("disc");
        client = Client.builder().endpoints(etcd.endpoint()).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        etcd.close();
        cluster.close();
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    /** Writes the keys a TiDB server would: info (no lease) and ttl (with a lease). */
    static void register(MariaDbServer s) throws Exception {
        String prefix = "/topology/tidb/" + s.address();
        client.getKVClient().put(bytes(prefix + "/info"), bytes("{\"version\":\"v8.5.0\",\"ip\":\"127.0.0.1\",\"status_port\":0,"
                + "\"start_timestamp\":1,\"labels\":{}}")).get(5, TimeUnit.SECONDS);
        long lease = client.getLeaseClient().grant(45).get(5, TimeUnit.SECONDS).getID();
        client.getKVClient().put(bytes(prefix + "/ttl"), bytes(String.valueOf(System.nanoTime())),
                io.etcd.jetcd.options.PutOption.builder().withLeaseId(lease).build()).get(5, TimeUnit.SECONDS);
    }

    static void deleteTtl(MariaDbServer s) throws Exception {
        client.getKVClient().delete(bytes("/topology/tidb/" + s.address() + "/ttl")).get(5, TimeUnit.SECONDS);
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

    @Test
    void backendsComeAndGoThroughEtcdAndSessionsFollow() throws Exception {
        MariaDbServer a = cluster.server(0);
        MariaDbServer b = cluster.server(1);
        register(a);
        String pd = etcd.address();
        try (TestProxy proxy = TestProxy.start(List.of(), "  pd-addrs: \"" + pd + "\"\n", TestProxy.SERVICE_ACCOUNT)) {
            List<Connection> onA = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Connection c = connect(proxy);
                c.createStatement().execute("SET @i = " + i);
                assertThat(serverId(c)).isEqualTo(a.serverId());
                onA.add(c);
            }
            // a new backend registers: new sessions reach it quickly
            register(b);
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(100)).until(() -> {
                try (Connection c = connect(proxy)) {
                    return serverId(c) == b.serverId();
                }
            });
            // a's ttl key vanishes (TiDB gone): its sessions move to b, with their state
            deleteTtl(a);
            for (int i = 0; i < onA.size(); i++) {
                Connection c = onA.get(i);
                await().atMost(Duration.ofSeconds(15)).until(() -> serverId(c) == b.serverId());
                try (ResultSet rs = c.createStatement().executeQuery("SELECT @i")) {
                    rs.next();
                    assertThat(rs.getInt(1)).isEqualTo(i);
                }
            }
            try (Connection c = connect(proxy)) {
                assertThat(serverId(c)).isEqualTo(b.serverId());
            }
            for (Connection c : onA) {
                c.close();
            }
        }
    }

    @Test
    void aHungBackendIsAvoided() throws Exception {
        MariaDbServer hung = cluster.server(0);
        MariaDbServer alive = cluster.server(1);
        try (TestProxy proxy = TestProxy.start(cluster.addresses(), "", TestProxy.SERVICE_ACCOUNT)) {
            hung.sigstop();
            try {
                await().atMost(Duration.ofSeconds(20)).until(() ->
                        proxy.api("GET", "/api/backends").body().contains("unhealthy"));
                for (int i = 0; i < 6; i++) {
                    try (Connection c = connect(proxy)) {
                        assertThat(serverId(c)).isEqualTo(alive.serverId());
                    }
                }
            } finally {
                hung.sigcont();
            }
            await().atMost(Duration.ofSeconds(20)).until(() ->
                    !proxy.api("GET", "/api/backends").body().contains("unhealthy"));
        }
    }
}
