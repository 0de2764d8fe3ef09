package io.tiproxy.proxy;

import ch.qos.logback.classic.Level;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.proxy.net.ProxyHeaderBytes;
import io.tiproxy.proxy.net.ProxyProtocolDecoder;
import io.tiproxy.testkit.HaProxy;
import io.tiproxy.testkit.LogCapture;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestCerts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * PROXY protocol v2 on both sides, with real parts: HAProxy ({@code send-proxy-v2}) in front of the
 * proxy, and MariaDB servers behind it that trust the proxy's address ({@code proxy_protocol_networks}).
 * The account {@code 'pp'@'127.0.0.5'} exists only for clients on 127.0.0.5, so it logs in only when the
 * client's address travels through every hop. The proxy trusts headers from 127.0.0.1 (HAProxy's
 * address); HAProxy's frontend {@code untrusted} connects from 127.0.0.9 instead.
 */
class ProxyProtocolTest {
    private static final String CLIENT_IP = "127.0.0.5";
    private static final String PP_USER = "pp";
    private static final String PP_PASSWORD = "pp-pass";
    private static final ObjectMapper JSON = new ObjectMapper();

    static final List<MariaDbServer> backends = new ArrayList<>();
    static TestProxy proxy;
    static HaProxy haProxy;

    @BeforeAll
    static void start() {
        Path dir = Paths.get("target", "it-data", "proxy-protocol-" + ProcessHandle.current().pid());
        // the servers start side by side (mostly waiting), the certificates meanwhile
        List<CompletableFuture<MariaDbServer>> starting = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            int n = i;
            starting.add(CompletableFuture.supplyAsync(() -> MariaDbServer.start("pp-" + n, 71 + n,
                    List.of("proxy_protocol_networks=127.0.0.1/32"))));
        }
        TestCerts certs = TestCerts.create(dir.resolve("certs"));
        starting.forEach(f -> backends.add(f.join()));
        for (MariaDbServer server : backends) {
            server.execAsAdmin("CREATE USER '" + PP_USER + "'@'" + CLIENT_IP + "' IDENTIFIED BY '" + PP_PASSWORD + "'",
                    "GRANT ALL ON " + TestAccounts.DATABASE + ".* TO '" + PP_USER + "'@'" + CLIENT_IP + "'");
        }
        proxy = TestProxy.start(addresses(),
                "  proxy-protocol: \"v2\"\n  proxy-protocol-networks: [\"127.0.0.1/32\"]\n",
                TestProxy.SERVICE_ACCOUNT + "  proxy-protocol: \"v2\"\n"
                        + "security:\n  server-tls:\n    cert: \"" + certs.cert().toAbsolutePath() + "\"\n    key: \""
                        + certs.key().toAbsolutePath() + "\"\n");
        String target = "127.0.0.1:" + proxy.port() + " send-proxy-v2";
        haProxy = HaProxy.start(dir.resolve("haproxy"), Map.of("lb", target, "untrusted", target + " source 127.0.0.9"));
    }

    @AfterAll
    static void stop() {
        if (haProxy != null) {
            haProxy.close();
        }
        if (proxy != null) {
            proxy.close();
        }
        backends.forEach(MariaDbServer::close);
    }

    static List<String> addresses() {
        return backends.stream().map(MariaDbServer::address).toList();
    }

    /** MariaDB Connector/J to {@code port}, its socket bound to {@code localIp}. */
    static Connection connect(int port, String localIp, String user, String password, String options) throws SQLException {
        String url = "jdbc:mariadb://127.0.0.1:" + port + "/" + TestAccounts.DATABASE + "?localSocketAddress=" + localIp
                + (options.isEmpty() ? "" : "&" + options);
        return DriverManager.getConnection(url, user, password);
    }

    static Connection ppClient(int port, String options) throws SQLException {
        return connect(port, CLIENT_IP, PP_USER, PP_PASSWORD, options);
    }

    static String stringOf(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }

    /** The {@code GET /api/sessions} entries of user {@code user}. */
    static List<JsonNode> sessionsOf(String user) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode s : JSON.readTree(proxy.api("GET", "/api/sessions").body())) {
            if (user.equals(s.path("user").asText())) {
                out.add(s);
            }
        }
        return out;
    }

    @Test
    void aHostGrantHoldsThroughTheProxyAndAfterAMove() throws Exception {
        try (Connection c = ppClient(proxy.port(), ""); Statement s = c.createStatement()) {
            assertThat(stringOf(c, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
            s.execute("SET @marker = 'kept'");
            String before = stringOf(c, "SELECT @@server_id");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(20)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !stringOf(c, "SELECT @@server_id").equals(before));
            // the new backend, too, was told who the client is
            assertThat(stringOf(c, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
            assertThat(stringOf(c, "SELECT @marker")).isEqualTo("kept");
        }
    }

    @Test
    void theFirstLoginOfAFreshProxyCarriesTheHeaderToo() throws Exception {
        // a fresh proxy knows no greeting yet: it asks a backend for one before the client has spoken,
        // on a connection that cannot name the client, and must not log the client in on it
        try (TestProxy fresh = TestProxy.start(addresses(), "", "backend:\n  proxy-protocol: \"v2\"\n");
             Connection c = ppClient(fresh.port(), "")) {
            assertThat(stringOf(c, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
        }
    }

    @Test
    void withoutTheBackendHeaderTheBackendSeesOnlyTheProxy() {
        try (TestProxy plain = TestProxy.start(addresses())) {
            assertThatThrownBy(() -> ppClient(plain.port(), "").close())
                    .isInstanceOf(SQLException.class)
                    .hasMessageContaining("'" + PP_USER + "'@'127.0.0.1'");
        }
    }

    @Test
    void aTrustedLoadBalancersHeaderNamesTheClientAtEveryHop() throws Exception {
        try (Connection c = ppClient(haProxy.port("lb"), "")) {
            // HAProxy -> proxy -> MariaDB: each hop passes the client's address on
            assertThat(stringOf(c, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
            // HAProxy's own connection comes from 127.0.0.1: the API shows the client the header named
            assertThat(sessionsOf(PP_USER)).isNotEmpty()
                    .allSatisfy(s -> assertThat(s.path("client").asText()).contains(CLIENT_IP + ":"));
        }
    }

    @Test
    void aHeaderThenTlsWorks() throws Exception {
        try (Connection c = ppClient(haProxy.port("lb"), "sslMode=trust")) {
            assertThat(stringOf(c, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
            assertThat(sessionsOf(PP_USER)).anySatisfy(session -> {
                assertThat(session.path("tls").asBoolean()).isTrue();
                assertThat(session.path("client").asText()).contains(CLIENT_IP + ":");
            });
        }
    }

    @Test
    void aClientWithoutHeaderIsServedAsItself() throws Exception {
        try (Connection c = connect(proxy.port(), "127.0.0.1", TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, "")) {
            assertThat(stringOf(c, "SELECT 1")).isEqualTo("1");
            assertThat(sessionsOf(TestAccounts.APP_USER)).isNotEmpty()
                    .allSatisfy(s -> assertThat(s.path("client").asText()).contains("127.0.0.1:"));
        }
    }

    @Test
    void aHeaderFromAnUntrustedSourceIsRefusedWithAClearError() throws Exception {
        try (Connection bystander = connect(proxy.port(), "127.0.0.1", TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, "");
             LogCapture log = LogCapture.of(ProxyProtocolDecoder.class)) {
            assertThatThrownBy(() -> ppClient(haProxy.port("untrusted"), "").close())
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1130))
                    .hasMessageContaining("PROXY protocol header from 127.0.0.9 refused")
                    .hasMessageContaining("proxy.proxy-protocol-networks");
            assertThat(log.messages(Level.WARN)).anyMatch(m -> m.contains("127.0.0.9"));
            assertThat(stringOf(bystander, "SELECT 1")).isEqualTo("1");
        }
    }

    @Test
    void aBrokenHeaderGetsAnErrorAndOthersCarryOn() throws Exception {
        try (Connection bystander = connect(proxy.port(), "127.0.0.1", TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, "");
             RawMySqlClient raw = new RawMySqlClient(proxy.port(), 10_000)) {
            // TCP over IPv4 needs 12 bytes of addresses; 4 cannot be parsed
            raw.writeRaw(ProxyHeaderBytes.raw(0x21, 0x11, new byte[] {1, 2, 3, 4}));
            assertThat(raw.read().sequenceId()).as("the greeting").isEqualTo(0);
            RawMySqlClient.Packet answer = raw.read();
            assertThat(answer.isErr()).isTrue();
            assertThat(answer.errorMessage()).contains("bad PROXY protocol v2 header");
            assertThat(raw.isClosedByPeer()).isTrue();
            assertThat(stringOf(bystander, "SELECT 1")).isEqualTo("1");
        }
        try (Connection after = ppClient(haProxy.port("lb"), "")) {
            assertThat(stringOf(after, "SELECT USER()")).isEqualTo(PP_USER + "@" + CLIENT_IP);
        }
    }
}
