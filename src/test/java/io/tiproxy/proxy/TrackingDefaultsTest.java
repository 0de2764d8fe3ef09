package io.tiproxy.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.tiproxy.testkit.Jdbc.stringOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Backends whose global defaults already track every session change (the four session_track_*
 * globals set as the proxy's own SET would set them) are spared the tracking SET at each login, and
 * their sessions still move with state the proxy could only have learned from tracking.
 */
class TrackingDefaultsTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String[] GLOBALS = {"session_track_system_variables", "session_track_schema",
            "session_track_state_change", "session_track_transaction_info"};
    static final String[] FULL = {"'*'", "ON", "ON", "'CHARACTERISTICS'"};
    static List<MariaDbServer> servers;
    static List<String[]> saved = new ArrayList<>();
    static TestProxy proxy;

    @BeforeAll
    static void start() throws SQLException {
        MariaDbCluster cluster = MariaDbCluster.shared();
        servers = List.of(cluster.server(0), cluster.server(1));
        for (MariaDbServer s : servers) {
            String[] values = new String[GLOBALS.length];
            try (Connection c = s.rootConnection(); Statement st = c.createStatement()) {
                for (int i = 0; i < GLOBALS.length; i++) {
                    try (ResultSet rs = st.executeQuery("SELECT @@global." + GLOBALS[i])) {
                        rs.next();
                        String v = rs.getString(1);
                        values[i] = v.matches("\\d+") ? v : "'" + v + "'"; // booleans read back as 0 or 1
                    }
                }
            }
            saved.add(values);
        }
        proxy = TestProxy.start(servers.stream().map(MariaDbServer::address).toList(), "",
                TestProxy.SERVICE_ACCOUNT + "balance:\n  load:\n    sample-interval: 100ms\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        for (int i = 0; i < servers.size(); i++) {
            setGlobals(servers.get(i), saved.get(i));
        }
    }

    static void setGlobals(MariaDbServer s, String[] values) {
        String[] sql = new String[GLOBALS.length];
        for (int i = 0; i < GLOBALS.length; i++) {
            sql[i] = "SET GLOBAL " + GLOBALS[i] + " = " + values[i];
        }
        s.execAsAdmin(sql);
    }

    /** Sets full tracking (or restores the servers' own defaults) and waits until the proxy has seen it. */
    static void fullTrackingByDefault(boolean full) {
        for (int i = 0; i < servers.size(); i++) {
            setGlobals(servers.get(i), full ? FULL : saved.get(i));
        }
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50)).until(() -> {
            for (JsonNode b : JSON.readTree(proxy.api("GET", "/api/backends").body())) {
                if (b.path("tracks_by_default").asBoolean() != full) {
                    return false;
                }
            }
            return true;
        });
    }

    static long setStatements() throws SQLException {
        long sum = 0;
        for (MariaDbServer s : servers) {
            sum += s.globalStatusNumber("Com_set_option");
        }
        return sum;
    }

    /** SET statements the backends ran for {@code n} logins through the proxy, each with one SELECT. */
    static long setStatementsForLogins(int n) throws SQLException {
        long before = setStatements();
        for (int i = 0; i < n; i++) {
            try (Connection c = DriverManager.getConnection(proxy.mysqlUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                 Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT 1")) {
                assertThat(rs.next()).isTrue();
            }
        }
        return setStatements() - before;
    }

    @Test
    void loginsToBackendsThatTrackByDefaultSendNoTrackingSet() throws SQLException {
        fullTrackingByDefault(false);
        long withSet = setStatementsForLogins(10);
        fullTrackingByDefault(true);
        long withoutSet = setStatementsForLogins(10);
        assertThat(withSet - withoutSet).as("SET statements saved by 10 logins (%d with, %d without)", withSet, withoutSet)
                .isEqualTo(10);
    }

    /**
     * MySQL Connector/J leaves tracking as the globals set it; MariaDB Connector/J narrows
     * session_track_system_variables at connect, which the proxy must undo even on such a backend.
     */
    @ParameterizedTest
    @ValueSource(strings = {"mysql", "mariadb"})
    void aSessionTrackedByTheGlobalsAloneMovesWithStateOnlyTrackingReported(String driver) throws SQLException {
        fullTrackingByDefault(true);
        String url = driver.equals("mysql") ? proxy.mysqlUrl("") : proxy.mariadbUrl("");
        try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Statement s = c.createStatement()) {
            // a SET inside a string: the proxy's SQL lexer does not see it, only session tracking does
            s.execute("EXECUTE IMMEDIATE 'SET SESSION sql_mode = ''ANSI_QUOTES'''");
            assertThat(stringOf(c, "SELECT @@sql_mode")).isEqualTo("ANSI_QUOTES");
            String before = stringOf(c, "SELECT @@server_id");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !stringOf(c, "SELECT @@server_id").equals(before));
            assertThat(stringOf(c, "SELECT @@sql_mode")).as("sql_mode after the move").isEqualTo("ANSI_QUOTES");
        }
    }
}
