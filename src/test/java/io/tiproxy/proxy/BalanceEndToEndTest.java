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
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The balance policy with real MariaDB servers and real clients: 300 sessions on 3 backends; a 4th
 * backend joins through discovery and receives its share by migration; sessions closed unevenly are
 * evened out; a balanced cluster then performs no migration for a minute; a backend made busy by
 * statements running on it (its real {@code Threads_running}) gets no new sessions. Every poll runs a
 * statement on every session, so any client error fails the test.
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
                .get(20, TimeUnit.SECONDS);
        long lease = client.getLeaseClient().grant(300).get(20, TimeUnit.SECONDS).getID();
        kv.put(ByteSequence.from(prefix + "/ttl", StandardCharsets.UTF_8),
                ByteSequence.from(String.valueOf(System.nanoTime()), StandardCharsets.UTF_8),
                io.etcd.jetcd.options.PutOption.builder().withLeaseId(lease).build()).get(20, TimeUnit.SECONDS);
    }

    static long serverId(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @@server_id")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Runs a statement on every session (an error fails the test) and groups the sessions by server id. */
    static Map<Long, List<Connection>> byServer(List<Connection> conns) throws SQLException {
        Map<Long, List<Connection>> out = new HashMap<>();
        for (Connection c : conns) {
            out.computeIfAbsent(serverId(c), k -> new ArrayList<>()).add(c);
        }
        return out;
    }

    static boolean allBetween(Map<Long, List<Connection>> byServer, int servers, int min, int max) {
        return byServer.size() == servers && byServer.values().stream().allMatch(l -> l.size() >= min && l.size() <= max);
    }

    @Test
    @EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
    void aJoiningBackendGetsItsShareUnevenClosesAreEvenedOutAndABalancedClusterStaysStill() throws Exception {
        for (MariaDbServer s : shared.servers()) {
            register(s);
        }
        List<Connection> conns = new ArrayList<>();
        try (TestProxy proxy = TestProxy.start(List.of(), "  pd-addrs: \"" + etcd.address() + "\"\n", TestProxy.SERVICE_ACCOUNT)) {
            for (int i = 0; i < 300; i++) {
                conns.add(DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD));
            }
            assertThat(allBetween(byServer(conns), 3, 95, 105)).as("300 new sessions spread over 3 backends").isTrue();

            register(fourth);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> allBetween(byServer(conns), 4, 60, 90));

            // close 150 sessions: every session of two backends, the 4th one's included
            Map<Long, List<Connection>> now = byServer(conns);
            long other = now.keySet().stream().filter(id -> id != fourth.serverId()).findFirst().orElseThrow();
            List<Connection> closing = new ArrayList<>(now.get((long) fourth.serverId()));
            closing.addAll(now.get(other));
            closing = closing.subList(0, Math.min(150, closing.size()));
            assertThat(closing).hasSizeGreaterThanOrEqualTo(120);
            for (Connection c : closing) {
                c.close();
            }
            conns.removeAll(closing);
            int left = conns.size();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> allBetween(byServer(conns), 4, left / 4 - 2, (left + 3) / 4 + 2));

            // the last moves of the evening-out may still be under way (the conn factor keeps going until the gap is
            // under 2): steady means no move asked for 5 s, and it must come within 30 s
            long[] lastAsked = {-1};
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(5)).until(() -> {
                long nowAsked = proxy.server().router().migrationsAsked();
                boolean still = nowAsked == lastAsked[0];
                lastAsked[0] = nowAsked;
                return still;
            });
            // balanced: for a minute, with every session queried every 5 s, nothing moves
            long asked = proxy.server().router().migrationsAsked();
            long migrated = proxy.server().migrationsSucceeded();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (System.nanoTime() < deadline) {
                Thread.sleep(5_000);
                byServer(conns);
            }
            assertThat(proxy.server().router().migrationsAsked()).as("migrations asked while balanced").isEqualTo(asked);
            assertThat(proxy.server().migrationsSucceeded()).as("migrations while balanced").isEqualTo(migrated);
            assertThat(proxy.server().router().factorScores()).hasSize(4)
                    .allSatisfy((backend, scores) -> assertThat(scores).containsKeys("status", "location", "load", "conn"));
        } finally {
            for (Connection c : conns) {
                c.close();
            }
        }
    }

    @Test
    void balanceSettingsReloadWithoutARestart() throws Exception {
        try (TestProxy proxy = TestProxy.start(shared.addresses(), "", TestProxy.SERVICE_ACCOUNT)) {
            var http = java.net.http.HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + proxy.apiPort() + "/api/admin/config";
            String yaml = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base + "?format=yaml")).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString()).body();
            assertThat(yaml).contains("policy: \"location\"").contains("zone: \"\"");
            String next = yaml.replace("policy: \"location\"", "policy: connection").replace("zone: \"\"", "zone: east");
            var put = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create(base))
                    .PUT(java.net.http.HttpRequest.BodyPublishers.ofString(next)).build(),
                    java.net.http.HttpResponse.BodyHandlers.ofString());
            assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
            assertThat(proxy.server().router().settings().order()).isEqualTo(io.tiproxy.balance.FactorOrder.CONNECTION);
            assertThat(proxy.server().router().settings().zone()).isEqualTo("east");
            await().atMost(Duration.ofSeconds(10)).until(() -> proxy.server().router().factorScores().values().stream()
                    .allMatch(scores -> scores.keySet().equals(java.util.Set.of("status", "conn"))));
        }
    }

    @Test
    void aBackendBusyWithRunningStatementsGetsNoNewSessions() throws Exception {
        MariaDbServer busy = shared.server(0);
        String busyYaml = TestProxy.SERVICE_ACCOUNT + "balance:\n  load: { sample-interval: 300ms, busy-threads: 4 }\n";
        ExecutorService sleepers = Executors.newFixedThreadPool(6);
        List<Connection> direct = new ArrayList<>();
        List<Connection> conns = new ArrayList<>();
        try (TestProxy proxy = TestProxy.start(shared.addresses(), "", busyYaml)) {
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Connection c = DriverManager.getConnection(busy.jdbcUrl(), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                direct.add(c);
                running.add(sleepers.submit(() -> {
                    try (Statement s = c.createStatement()) {
                        s.execute("SELECT SLEEP(30)");
                    }
                    return null;
                }));
            }
            var router = proxy.server().router();
            // the load factor judges a pair only when both loads are known: wait for a sample of every backend
            await().atMost(Duration.ofSeconds(15)).until(() -> router.load(busy.address()) >= 4
                    && shared.addresses().stream().allMatch(a -> !Double.isNaN(router.load(a))));
            for (int i = 0; i < 30; i++) {
                conns.add(DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD));
            }
            Map<Long, List<Connection>> placed = byServer(conns);
            Map<String, Double> loads = new java.util.TreeMap<>();
            shared.addresses().forEach(a -> loads.put(a, router.load(a)));
            assertThat(placed).as("sessions by server id; loads now %s", loads)
                    .doesNotContainKey((long) busy.serverId()).hasSize(2);
            assertThat(placed.values()).allSatisfy(l -> assertThat(l).hasSizeGreaterThanOrEqualTo(10));
            assertThat(running).noneMatch(Future::isDone); // still busy all along
        } finally {
            for (Connection c : conns) {
                c.close();
            }
            for (Connection c : direct) {
                busy.execAsAdmin("KILL QUERY " + c.unwrap(org.mariadb.jdbc.Connection.class).getThreadId());
                c.close();
            }
            sleepers.shutdownNow();
        }
    }
}
