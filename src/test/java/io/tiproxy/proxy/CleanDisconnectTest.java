package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;

import static io.tiproxy.testkit.Jdbc.stringOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Backend connections the proxy ends on purpose end with COM_QUIT, as a client's would: the backend
 * counts no aborted client and logs no "Aborted connection" warning for a client that quit, for the
 * old connection of a moved session, or for the proxy's own service connections.
 */
class CleanDisconnectTest {
    static List<MariaDbServer> servers;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        MariaDbCluster cluster = MariaDbCluster.shared();
        servers = List.of(cluster.server(0), cluster.server(1));
        proxy = TestProxy.start(servers.stream().map(MariaDbServer::address).toList(), "",
                TestProxy.SERVICE_ACCOUNT + "balance:\n  load:\n    sample-interval: 100ms\n");
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static long abortedClients() throws SQLException {
        long sum = 0;
        for (MariaDbServer s : servers) {
            sum += s.globalStatusNumber("Aborted_clients");
        }
        return sum;
    }

    static Connection session() throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    /** Aborted clients stay at {@code before} for a second (a bare close is counted within milliseconds). */
    static void assertNoAbortedClientsSince(long before) {
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(100))
                .until(() -> abortedClients() == before);
    }

    @Test
    void clientsThatQuitLeaveNoAbortedClientOnTheBackend() throws SQLException {
        long before = abortedClients();
        for (int i = 0; i < 20; i++) {
            try (Connection c = session()) {
                assertThat(stringOf(c, "SELECT 1")).isEqualTo("1");
            }
        }
        assertNoAbortedClientsSince(before);
    }

    @Test
    void theOldConnectionOfAMovedSessionQuitsCleanly() throws SQLException {
        try (Connection c = session()) {
            long before = abortedClients();
            String from = stringOf(c, "SELECT @@server_id");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !stringOf(c, "SELECT @@server_id").equals(from));
            assertNoAbortedClientsSince(before);
        }
    }
}
