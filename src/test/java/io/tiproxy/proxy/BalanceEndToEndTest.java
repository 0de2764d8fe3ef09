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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * 300 sessions on 3 backends; a 4th backend joins through discovery and receives its share by
 * migration; sessions closed unevenly are evened out; a balanced cluster stays still. No client error.
 */
class BalanceEndToEndTest {
    static MariaDbCluster shared;
    static MariaDbServer fourth;
    static EtcdServer etcd;
    static Client client;

    @BeforeAll
    static void start() {
        shared = MariaDbCluster.shared();
        fourth = MariaDbServer.start("bal4", 44);
        etcd = EtcdServer.start("bal");
        client = Client.builder().endpoints(etcd.endpoint()).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        etcd.close();
        fourth.close();
    }

    static void register(MariaDbServer s) throws Exception {
        String prefix = "/topology/tidb/" + s.address();
        var kv = client.getKVClient();
        kv.put(ByteSequence.from(prefix + "/info", StandardCharsets.UTF_8),
                ByteSequence.from("{\"version\":\"v8.5.0\",\"ip\":\"127.0.0.1\",\"status_port\":0}", StandardCharsets.UTF_8))
                .get(5, TimeUnit.SECONDS);
        long lease = client.getLeaseClient().grant(120).get(5, TimeUnit.SECONDS).getID();
        kv.put(ByteSequence.from(prefix + "/ttl", StandardCharsets.UTF_8),
                ByteSequence.from(String.valueOf(System.nanoTime()), StandardCharsets.UTF_8),
                io.etcd.jetcd.options.PutOption.builder().withLeaseId(lease).build()).get(5, TimeUnit.SECONDS);
    }

    static Map<Long, Integer> countsByServer(List<Connection> conns) throws SQLException {
        Map<Long, Integer> counts = new HashMap<>();
        for (Connection c : conns) {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
                rs.next();
                counts.merge(rs.getLong(1), 1, Integer::sum);
            }
        }
        return counts;
    }

    @Test
    void aJoiningBackendGetsItsShareAndUnevenClosesAreEvenedOut() throws Exception {
        for (MariaDbServer s : shared.servers()) {
            register(s);
        }
        List<Connection> conns = new ArrayList<>();
        try (TestProxy proxy = TestProxy.start(List.of(), "  pd-addrs: \"" + etcd.address() + "\"\n", TestProxy.SERVICE_ACCOUNT)) {
            for (int i = 0; i < 300; i++) {
                conns.add(DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD));
            }
            Map<Long, Integer> initial = countsByServer(conns);
            assertThat(initial.values()).allMatch(n -> n >= 90 && n <= 110);

            register(fourth);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                Map<Long, Integer> counts = countsByServer(conns);
                return counts.size() == 4 && counts.values().stream().allMatch(n -> n >= 60 && n <= 90);
            });

            // close 150 sessions, all from one backend's share as far as possible
            Map<Long, List<Connection>> byServer = new HashMap<>();
            for (Connection c : conns) {
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
                    rs.next();
                    byServer.computeIfAbsent(rs.getLong(1), k -> new ArrayList<>()).add(c);
                }
            }
            // close the 4th backend's sessions and then others' until 150 are gone
            List<Connection> victims = new ArrayList<>(byServer.get((long) fourth.serverId()));
            for (List<Connection> l : byServer.values()) {
                if (l != byServer.get((long) fourth.serverId())) {
                    victims.addAll(l);
                }
            }
            victims = new ArrayList<>(victims.subList(0, 150));
            for (Connection c : victims) {
                c.close();
            }
            conns.removeAll(victims);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1)).until(() -> {
                Map<Long, Integer> counts = countsByServer(conns);
                int max = counts.values().stream().max(Integer::compare).orElse(0);
                int min = counts.size() < 4 ? 0 : counts.values().stream().min(Integer::compare).orElse(0);
                return max - min <= 4;
            });

            // balanced: it holds still
            long moves = proxy.server().router().rebalanceMoves();
            Thread.sleep(15_000);
            countsByServer(conns);
            assertThat(proxy.server().router().rebalanceMoves()).as("moves while balanced").isEqualTo(moves);
        } finally {
            for (Connection c : conns) {
                c.close();
            }
        }
    }
}
