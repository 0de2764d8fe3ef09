package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The proxy's own limits against a real MariaDB: the memory guard ({@code proxy.max-heap-usage-percent}),
 * the count of refused clients, and packets beyond the backend's {@code max_allowed_packet}. Idle timeouts are in {@link IdleTimeoutTest}.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class LimitsTest {
    static MariaDbServer backend;

    @BeforeAll
    static void start() {
        backend = MariaDbServer.start("limits", 901, List.of("max_allowed_packet=1M"));
    }

    @AfterAll
    static void stop() {
        backend.close();
    }

    static Connection login(TestProxy proxy) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    static void assertWorks(Connection c) throws SQLException {
        try (Statement s = c.createStatement(); var rs = s.executeQuery("SELECT 20 + 22")) {
            rs.next();
            assertThat(rs.getInt(1)).isEqualTo(42);
        }
    }

    @Test
    @Timeout(120)
    void aFullHeapRefusesNewClientsWithError1040WhileSessionsGoOnAndAcceptsThemAgainAfter() throws Exception {
        // a limit a little above this JVM's heap in use after a collection, and a ballast that goes beyond it
        System.gc();
        MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
        int basePercent = (int) (heap.getUsed() * 100 / heap.getMax());
        int limit = basePercent + 3;
        long ballastBytes = heap.getMax() / 100 * (limit + 4) - heap.getUsed();
        assertThat(limit).as("heap in use before the test leaves room for it").isLessThan(80);

        try (TestProxy proxy = TestProxy.start(List.of(backend.address()), "  max-heap-usage-percent: " + limit + "\n", "");
             Connection existing = login(proxy)) {
            assertWorks(existing);
            List<byte[]> ballast = new ArrayList<>();
            for (long held = 0; held < ballastBytes; held += 8 << 20) {
                ballast.add(new byte[8 << 20]);
            }
            System.gc(); // the guard reads the heap after each collection

            SQLException refused = awaitRefusal(proxy);
            assertThat(refused.getErrorCode()).isEqualTo(1040);
            assertThat(refused.getMessage()).contains("heap").contains("max-heap-usage-percent " + limit);
            try (RawMySqlClient raw = new RawMySqlClient(proxy.port(), 10_000)) {
                RawMySqlClient.Packet err = raw.read();
                assertThat(err.isErr()).as("the first packet a refused client reads").isTrue();
                assertThat(err.sequenceId()).isZero();
                assertThat(err.errorCode()).isEqualTo(1040);
                RawMySqlClient.expectClosed(raw);
            }
            assertWorks(existing);
            assertThat(metric(proxy, "tiproxy_server_reject_connection_total{type=\"memory\"}")).isPositive();

            ballast.clear();
            System.gc();
            try (Connection again = awaitAcceptance(proxy)) {
                assertWorks(again);
            }
            assertWorks(existing);
            assertThat(ballast).isEmpty(); // keeps the ballast reachable until the refusal was seen
        }
    }

    private static SQLException awaitRefusal(TestProxy proxy) throws InterruptedException, SQLException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            Connection accepted;
            try {
                accepted = login(proxy);
            } catch (SQLException e) {
                return e;
            }
            accepted.close();
            assertThat(System.nanoTime()).as("a login refused by the memory guard within 30 s").isLessThan(deadline);
            Thread.sleep(200);
        }
    }

    private static Connection awaitAcceptance(TestProxy proxy) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                return login(proxy);
            } catch (SQLException e) {
                assertThat(System.nanoTime()).as("a login accepted again within 30 s; last: " + e.getMessage()).isLessThan(deadline);
            }
            System.gc();
            Thread.sleep(200);
        }
    }

    @Test
    @Timeout(60)
    void aClientBeyondMaxConnectionsIsCountedAsRejected() throws Exception {
        try (TestProxy proxy = TestProxy.start(List.of(backend.address()), "  max-connections: 1\n", "");
             Connection only = login(proxy)) {
            try (RawMySqlClient raw = new RawMySqlClient(proxy.port(), 10_000)) {
                RawMySqlClient.Packet err = raw.read();
                assertThat(err.isErr()).isTrue();
                assertThat(err.errorCode()).isEqualTo(1040);
            }
            assertWorks(only);
            assertThat(metric(proxy, "tiproxy_server_reject_connection_total{type=\"max_connections\"}")).isEqualTo(1.0);
            assertThat(metric(proxy, "tiproxy_server_reject_connection_total{type=\"memory\"}")).isZero();
        }
    }

    @Test
    @Timeout(60)
    void aPacketBeyondTheBackendsMaxAllowedPacketGetsAClearErrorAndNobodyElseNotices() throws Exception {
        try (TestProxy proxy = TestProxy.start(List.of(backend.address()));
             Connection bystander = login(proxy);
             RawMySqlClient c = new RawMySqlClient(proxy.port(), 30_000)) {
            assertThat(c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
            byte[] sql = ("SELECT LENGTH('" + "y".repeat(2 << 20) + "')").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            byte[] payload = new byte[sql.length + 1];
            payload[0] = 0x03;
            System.arraycopy(sql, 0, payload, 1, sql.length);
            c.write(0, payload);
            RawMySqlClient.Packet err = c.read();
            assertThat(err.isErr()).as("answer to a 2 MiB statement, max_allowed_packet 1 MiB").isTrue();
            System.out.println("LimitsTest: 2 MiB statement answered " + err.errorCode() + " " + err.errorMessage());
            // the backend's own ERR 1153 when it reaches the proxy before the backend's reset, else the proxy's
            assertThat(err.errorCode()).isIn(1153, 1105);
            assertThat(err.errorMessage()).contains("max_allowed_packet");
            // the backend closed this session's connection; with no other backend to rebuild it on, the session
            // ends, and says why
            RawMySqlClient.Packet last = c.read();
            assertThat(last.isErr()).as("a last word before the close").isTrue();
            assertThat(last.errorMessage()).startsWith("Lost connection to backend")
                    .contains("could not be restored on another backend");
            RawMySqlClient.expectClosed(c);
            assertWorks(bystander);
            try (Connection fresh = login(proxy)) {
                assertWorks(fresh);
            }
        }
    }

    /** The value of one sample in the proxy's /metrics. */
    static double metric(TestProxy proxy, String sample) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(sample) + " (\\S+)$").matcher(proxy.server().metrics().scrape());
        assertThat(m.find()).as("metric " + sample).isTrue();
        return Double.parseDouble(m.group(1));
    }

    /** Replaces the running config through {@code PUT /api/admin/config}, changing one line of its YAML. */
    static void putConfig(TestProxy proxy, String keyRegex, String newLine) throws Exception {
        String yaml = proxy.api("GET", "/api/admin/config?format=yaml").body();
        String changed = yaml.replaceAll("(?m)^(\\s*)" + keyRegex + ":.*$", "$1" + Matcher.quoteReplacement(newLine));
        assertThat(changed).as("config with " + newLine).isNotEqualTo(yaml);
        HttpResponse<String> put = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + proxy.apiPort() + "/api/admin/config"))
                .PUT(HttpRequest.BodyPublishers.ofString(changed)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(put.statusCode()).as("PUT config: " + put.body()).isEqualTo(200);
    }
}
