package io.tiproxy.proxy.backend;

import io.netty.channel.EventLoopGroup;
import io.tiproxy.manager.config.BackendConfig;
import io.tiproxy.manager.config.ProxyProtocol;
import io.tiproxy.proxy.client.BackendAddress;
import io.tiproxy.proxy.net.Transport;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The load sampler against a real MariaDB: what it reads is the server's own count of running statements. */
class BackendLoadSamplerTest {
    static final Transport TRANSPORT = Transport.best();
    static EventLoopGroup group;
    static MariaDbServer server;

    @BeforeAll
    static void start() {
        group = TRANSPORT.newGroup(1, "sampler-test");
        server = MariaDbCluster.shared().server(1);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).syncUninterruptibly();
    }

    static BackendLoadSampler sampler(String user, String password, Map<String, Double> sink) {
        return sampler(user, password, sink::put);
    }

    static BackendLoadSampler sampler(String user, String password, java.util.function.BiConsumer<String, Double> sink) {
        return new BackendLoadSampler(TRANSPORT, group.next(), () -> new BackendConfig(user, password, ProxyProtocol.NONE),
                () -> List.of(server.address()), BackendAddress::parse, () -> null, () -> Duration.ofMillis(200), sink,
                new TrackingDefaults());
    }

    @Test
    void readsHowManyStatementsRunOnTheServerBesidesItsOwn() throws Exception {
        Map<String, Double> seen = new ConcurrentHashMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Connection> sleepers = new ArrayList<>();
        try (BackendLoadSampler sampler = sampler(TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD, seen)) {
            sampler.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.containsKey(server.address()));
            assertThat(seen.get(server.address())).as("an idle server").isLessThan(2.0);
            for (int i = 0; i < 4; i++) {
                Connection c = DriverManager.getConnection(server.jdbcUrl(), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                sleepers.add(c);
                pool.submit(() -> {
                    try (Statement s = c.createStatement()) {
                        s.execute("SELECT SLEEP(20)");
                    }
                    return null;
                });
            }
            await().atMost(Duration.ofSeconds(10)).until(() -> seen.get(server.address()) >= 4.0);
        } finally {
            for (Connection c : sleepers) {
                server.execAsAdmin("KILL QUERY " + c.unwrap(org.mariadb.jdbc.Connection.class).getThreadId());
                c.close();
            }
            pool.shutdownNow();
        }
    }

    @Test
    void keepsSamplingAfterTheServerClosedItsConnection() throws Exception {
        java.util.concurrent.atomic.AtomicInteger samples = new java.util.concurrent.atomic.AtomicInteger();
        try (BackendLoadSampler sampler = sampler(TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD,
                (b, v) -> samples.incrementAndGet())) {
            sampler.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> samples.get() >= 2);
            // the server ends the sampler's connection between two samples (wait_timeout, a KILL, a restart)
            List<Long> ids = new ArrayList<>();
            try (Connection admin = server.rootConnection();
                 Statement st = admin.createStatement();
                 var rs = st.executeQuery("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = '"
                         + TestAccounts.SERVICE_USER + "' AND ID <> CONNECTION_ID()")) {
                while (rs.next()) {
                    ids.add(rs.getLong(1));
                }
            }
            assertThat(ids).as("the sampler's connection").isNotEmpty();
            for (long id : ids) {
                server.execAsAdmin("KILL CONNECTION " + id);
            }
            int before = samples.get();
            await().atMost(Duration.ofSeconds(10)).until(() -> samples.get() >= before + 3);
        }
    }

    @Test
    void anAccountThatCannotLogInGivesNoSample() throws Exception {
        Map<String, Double> seen = new ConcurrentHashMap<>();
        try (BackendLoadSampler sampler = sampler(TestAccounts.SERVICE_USER, "wrong password", seen)) {
            sampler.start();
            Thread.sleep(1500); // several rounds, each one a refused login
            assertThat(seen).isEmpty();
        }
        try (BackendLoadSampler sampler = sampler("", "", seen)) {
            sampler.start();
            Thread.sleep(500);
            assertThat(seen).as("no service user: nothing sampled").isEmpty();
        }
    }

    @Test
    void parsesTheStatusRow() {
        byte[][] row = {"Threads_running".getBytes(), "7".getBytes()};
        QueryResult r = new QueryResult(0, "", List.of("Variable_name", "Value"), List.of(253, 253),
                List.<byte[][]>of(row), 0);
        assertThat(BackendLoadSampler.parse(r)).isEqualTo(7.0);
        assertThat(BackendLoadSampler.parse(new QueryResult(0, "", List.of(), List.of(), List.of(), 0))).isNull();
    }

    static QueryResult globals(String... values) {
        byte[][] row = new byte[values.length][];
        for (int i = 0; i < values.length; i++) {
            row[i] = values[i] == null ? null : values[i].getBytes();
        }
        return new QueryResult(0, "", List.of("a", "b", "c", "d"), List.of(253, 8, 8, 253), List.<byte[][]>of(row), 0);
    }

    @Test
    void fullTrackingIsRecognisedOnlyWhenAllFourGlobalsTrackEverything() {
        assertThat(TrackingDefaults.sufficient(globals("*", "1", "1", "CHARACTERISTICS"))).isTrue();
        assertThat(TrackingDefaults.sufficient(globals("*", "ON", "ON", "characteristics"))).isTrue();
        assertThat(TrackingDefaults.sufficient(globals("autocommit,time_zone", "1", "1", "CHARACTERISTICS"))).isFalse();
        assertThat(TrackingDefaults.sufficient(globals("*", "0", "1", "CHARACTERISTICS"))).isFalse();
        assertThat(TrackingDefaults.sufficient(globals("*", "1", "0", "CHARACTERISTICS"))).isFalse();
        assertThat(TrackingDefaults.sufficient(globals("*", "1", "1", "STATE"))).isFalse();
        assertThat(TrackingDefaults.sufficient(globals("*", "1", "1", null))).isFalse();
        assertThat(TrackingDefaults.sufficient(new QueryResult(1193, "Unknown system variable", List.of(), List.of(),
                List.of(), 0))).as("a server without these variables").isFalse();
    }
}
