package io.tiproxy.proxy;

import com.mysql.cj.jdbc.JdbcConnection;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** KILL with the connection id a client saw in the proxy's greeting reaches the right session. */
class KillTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        // one backend: KILL QUERY is translated to the backend's own thread id on the same server
        proxy = TestProxy.start(List.of(MariaDbCluster.shared().server(0).address()));
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static Connection mysql() throws SQLException {
        return DriverManager.getConnection(proxy.mysqlUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
    }

    @Test
    void killConnectionByTheIdFromTheGreeting() throws Exception {
        try (Connection victim = mysql(); Connection killer = mysql()) {
            long id = victim.unwrap(JdbcConnection.class).getId();
            try (Statement s = killer.createStatement()) {
                s.execute("KILL " + id);
            }
            assertThatThrownBy(() -> victim.createStatement().executeQuery("SELECT 1")).isInstanceOf(SQLException.class);
            try (Statement s = killer.createStatement(); ResultSet rs = s.executeQuery("SELECT 2")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(2);
            }
        }
    }

    @Test
    void anotherUsersSessionCannotBeKilledAndLivesOn() throws Exception {
        try (Connection victim = mysql();
             Connection other = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.ED25519_USER,
                     TestAccounts.ED25519_PASSWORD)) {
            long id = victim.unwrap(JdbcConnection.class).getId();
            try (Statement s = other.createStatement()) {
                assertThatThrownBy(() -> s.execute("KILL " + id))
                        .isInstanceOfSatisfying(SQLException.class, e -> {
                            assertThat(e.getErrorCode()).isEqualTo(1095);
                            assertThat(e.getMessage()).contains("You are not owner of thread " + id);
                        });
                assertThatThrownBy(() -> s.execute("KILL QUERY " + id))
                        .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1095));
            }
            try (Statement s = victim.createStatement(); ResultSet rs = s.executeQuery("SELECT 3")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(3);
            }
        }
    }

    @Test
    void statementCancelStopsTheRunningQueryAndTheSessionGoesOn() throws Exception {
        try (Connection c = mysql(); Statement s = c.createStatement()) {
            CompletableFuture<Throwable> running = CompletableFuture.supplyAsync(() -> {
                try {
                    s.executeQuery("SELECT SLEEP(30)");
                    return null;
                } catch (SQLException e) {
                    return e;
                }
            });
            Thread.sleep(500);
            s.cancel(); // MySQL Connector/J: KILL QUERY <greeting id> on a new connection through the proxy
            Throwable outcome = running.get(15, TimeUnit.SECONDS);
            // MariaDB answers a killed SLEEP either with error 1317 (the driver says "cancelled") or with the
            // result 1 ("interrupted"); either way it ended long before its 30 s
            if (outcome != null) {
                assertThat(outcome.getMessage()).containsAnyOf("cancelled", "interrupted", "Cancelled", "Interrupted");
            }
            try (ResultSet rs = c.createStatement().executeQuery("SELECT 3")) {
                rs.next();
                assertThat(rs.getInt(1)).isEqualTo(3);
            }
        }
    }

    @Test
    void processKillWithAnUnknownIdIsTheBackendsBusiness() throws Exception {
        try (Connection c = mysql(); Statement s = c.createStatement()) {
            assertThatThrownBy(() -> s.execute("KILL QUERY 987654321"))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getErrorCode()).isEqualTo(1094));
        }
    }
}
