package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.discovery.StaticBackendSource;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The SQL-port probe against a real MariaDB 10.11 started with {@code max_connect_errors=10}.
 *
 * <p>MariaDB keeps connection errors per client IP in its host cache, but never for 127.0.0.1 (a
 * loopback client is not looked up) and not at all with {@code skip-name-resolve}. So this server runs
 * with name resolution on, and the probes connect <em>from 127.0.0.2</em>: to MariaDB a remote host,
 * whose count is kept and enforced, as for a proxy on another machine.
 */
class MariaDbHealthTest {
    private static final int MAX_CONNECT_ERRORS = 10;
    private static final InetAddress PROBE_SOURCE = loopback("127.0.0.2");
    /** A different "host", used to show that a half-open probe does get blocked on this server. */
    private static final InetAddress NAIVE_SOURCE = loopback("127.0.0.3");
    private static final Duration TIMEOUT = Duration.ofMillis(500);

    private static MariaDbServer server;

    @BeforeAll
    static void startServer() {
        server = MariaDbServer.start("health", 201, List.of(
                "max_connect_errors=" + MAX_CONNECT_ERRORS,
                "skip-name-resolve=0"));
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    private static ObserverSettings settings(boolean serviceAccount) {
        ObserverSettings s = new ObserverSettings(Duration.ofMillis(500), TIMEOUT, 2, 1, "", "");
        return serviceAccount ? s.withServiceAccount(TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD) : s;
    }

    @Test
    void thousandsOfProbesDoNotCountTowardMaxConnectErrors() throws Exception {
        DiscoveredBackend backend = DiscoveredBackend.ofAddress(server.address());
        int perMode = 1000;
        try (BackendHealthChecker withAccount = new BackendHealthChecker(settings(true), 4, PROBE_SOURCE);
             BackendHealthChecker withoutAccount = new BackendHealthChecker(settings(false), 4, PROBE_SOURCE)) {
            for (HealthChecker checker : List.of(withAccount, withoutAccount)) {
                int healthy = 0;
                for (int batch = 0; batch < perMode / 8; batch++) {
                    List<CompletableFuture<HealthResult>> results = new ArrayList<>();
                    for (int i = 0; i < 8; i++) {
                        results.add(checker.check(backend, Duration.ofSeconds(5)));
                    }
                    for (CompletableFuture<HealthResult> r : results) {
                        HealthResult result = r.get();
                        assertThat(result.healthy()).as(result.reason()).isTrue();
                        assertThat(result.reason()).isEmpty();
                        healthy++;
                    }
                }
                assertThat(healthy).isEqualTo(perMode);
            }
        }
        // the probes' host can still log in, as an application would from the proxy's machine
        assertThat(selectOne("jdbc:mariadb://" + server.address() + "/test?localSocketAddress=127.0.0.2")).isEqualTo(1);
        assertThat(selectOne(server.jdbcUrl())).isEqualTo(1);

        // control: the same server does block a host whose probes only read the greeting and hang up
        boolean blocked = false;
        for (int i = 0; i <= MAX_CONNECT_ERRORS + 2 && !blocked; i++) {
            blocked = greetingThenHangUp().contains("is blocked because of many connection errors");
        }
        assertThat(blocked).as("half-open probes from %s get it blocked", NAIVE_SOURCE).isTrue();
        assertThat(selectOne("jdbc:mariadb://" + server.address() + "/test?localSocketAddress=127.0.0.2"))
                .as("127.0.0.2 is still fine").isEqualTo(1);
    }

    @Test
    void probeResultsOnAPlainServer() throws Exception {
        DiscoveredBackend backend = DiscoveredBackend.ofAddress(server.address());
        try (BackendHealthChecker checker = new BackendHealthChecker(settings(true))) {
            assertThat(checker.check(backend, TIMEOUT).get()).isEqualTo(HealthResult.ok()); // wsrep_on=OFF
        }
        try (BackendHealthChecker wrongPassword = new BackendHealthChecker(
                settings(false).withServiceAccount(TestAccounts.SERVICE_USER, "wrong"))) {
            HealthResult result = wrongPassword.check(backend, TIMEOUT).get();
            assertThat(result.healthy()).as("the server is up; the account is the problem").isTrue();
            assertThat(result.reason()).contains("service account cannot log in").contains("1045");
            wrongPassword.reconfigure(settings(true)); // a config reload fixes the password: the next check uses it
            assertThat(wrongPassword.check(backend, TIMEOUT).get()).isEqualTo(HealthResult.ok());
        }
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        try (BackendHealthChecker checker = new BackendHealthChecker(settings(false))) {
            HealthResult refused = checker.check(DiscoveredBackend.ofAddress("127.0.0.1:" + closedPort), TIMEOUT).get();
            assertThat(refused.healthy()).isFalse();
            assertThat(refused.reason()).contains("Connection refused");
        }
    }

    @Test
    void hungBackendIsUnhealthyWithinTheWindowAndRecoversAfterSigcont() throws Exception {
        ObserverSettings settings = settings(true);
        DiscoveredBackend backend = DiscoveredBackend.ofAddress(server.address());
        EventRecorder recorder = new EventRecorder();
        try (BackendObserver observer = new BackendObserver(new StaticBackendSource(List.of(server.address())),
                new BackendHealthChecker(settings), settings);
             BackendHealthChecker probe = new BackendHealthChecker(settings)) {
            observer.subscribe(recorder);
            observer.start();
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(server.address(), BackendState.HEALTHY));

            server.sigstop();
            long stopped = System.nanoTime();
            try {
                HealthResult direct = probe.check(backend, TIMEOUT).get();
                long probeMillis = (System.nanoTime() - stopped) / 1_000_000;
                assertThat(direct.healthy()).isFalse();
                assertThat(direct.reason()).contains("timed out");
                assertThat(probeMillis).as("one probe against a hung server").isLessThan(TIMEOUT.toMillis() + 400);

                Duration window = settings.interval().multipliedBy(settings.failThreshold()).plus(settings.timeout());
                Duration slack = Duration.ofMillis(1000); // scheduling on a busy 2-core host
                await().atMost(window.plus(slack).plusSeconds(5))
                        .until(() -> recorder.lastIs(server.address(), BackendState.UNHEALTHY));
                long unhealthyMillis = (System.nanoTime() - stopped) / 1_000_000;
                assertThat(unhealthyMillis).as("UNHEALTHY within interval*fail + timeout + slack")
                        .isLessThanOrEqualTo(window.plus(slack).toMillis());
                assertThat(observer.snapshot().get(server.address()).reason()).contains("timed out");
            } finally {
                server.sigcont();
            }
            long resumed = System.nanoTime();
            await().atMost(Duration.ofSeconds(5)).until(() -> recorder.lastIs(server.address(), BackendState.HEALTHY));
            assertThat((System.nanoTime() - resumed) / 1_000_000).as("HEALTHY again within interval + timeout + slack")
                    .isLessThanOrEqualTo(settings.interval().plus(settings.timeout()).plusMillis(1000).toMillis());
            assertThat(recorder.states(server.address()))
                    .containsExactly(BackendState.UNHEALTHY, BackendState.HEALTHY, BackendState.UNHEALTHY,
                            BackendState.HEALTHY);
        }
    }

    /** What a naive probe does: connect, read the greeting, hang up. Returns what the server sent. */
    private static String greetingThenHangUp() throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(NAIVE_SOURCE, 0));
            socket.connect(new InetSocketAddress(server.host(), server.port()), 2000);
            socket.setSoTimeout(2000);
            InputStream in = socket.getInputStream();
            byte[] buf = new byte[512];
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, StandardCharsets.ISO_8859_1);
        }
    }

    private static int selectOne(String url) throws Exception {
        try (Connection conn = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Statement stmt = conn.createStatement();
             ResultSet rs = stmt.executeQuery("SELECT 1")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    private static InetAddress loopback(String ip) {
        try {
            return InetAddress.getByName(ip);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
