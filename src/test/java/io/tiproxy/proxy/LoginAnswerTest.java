package io.tiproxy.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import static io.tiproxy.testkit.Jdbc.stringOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Logins the proxy answers itself: once an account's stored hash is cached (looked up in the background
 * after its first accepted login), a client's mysql_native_password scramble that matches it lets the
 * proxy answer the backend's salt directly, without the auth-switch round trip to the client. The
 * backend still decides every login; these tests pin that a changed or wrong password is judged as
 * before, and that an answered session moves like any other.
 */
class LoginAnswerTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static MariaDbCluster cluster;
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        cluster = MariaDbCluster.shared();
        proxy = TestProxy.startMigratable(cluster.addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
        for (String user : new String[] {"answer_moves", "answer_changed", "answer_wrong"}) {
            cluster.servers().forEach(s -> s.execAsAdmin("DROP USER IF EXISTS '" + user + "'@'%'"));
        }
    }

    /** An account of the same name and password on every (independent) backend. */
    static void createUser(String user, String password) {
        cluster.servers().forEach(s -> s.execAsAdmin("DROP USER IF EXISTS '" + user + "'@'%'",
                "CREATE USER '" + user + "'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('" + password + "')",
                "GRANT ALL ON test.* TO '" + user + "'@'%'"));
    }

    static Connection login(String user, String password) throws SQLException {
        return DriverManager.getConnection(proxy.mariadbUrl(""), user, password);
    }

    /** The {@code login} field of {@code /api/sessions} for the one open session of {@code user}. */
    static String loginPath(String user) throws Exception {
        for (JsonNode s : JSON.readTree(proxy.api("GET", "/api/sessions").body())) {
            if (user.equals(s.path("user").asText())) {
                return s.path("login").asText();
            }
        }
        throw new AssertionError("no session of " + user + " in /api/sessions");
    }

    /** Logs in until a login is answered by the proxy (the background lookup after the first has landed). */
    static Connection awaitAnsweredLogin(String user, String password) throws Exception {
        try (Connection first = login(user, password)) {
            assertThat(loginPath(user)).as("the first login of a user no lookup has cached yet").isEqualTo("relayed");
        }
        Connection[] answered = new Connection[1];
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100)).until(() -> {
            Connection c = login(user, password);
            if (loginPath(user).equals("answered")) {
                answered[0] = c;
                return true;
            }
            c.close();
            return false;
        });
        return answered[0];
    }

    @Test
    void anAnsweredLoginWorksAndItsSessionMovesWithItsState() throws Exception {
        createUser("answer_moves", "pw-moves");
        try (Connection c = awaitAnsweredLogin("answer_moves", "pw-moves"); Statement s = c.createStatement()) {
            assertThat(stringOf(c, "SELECT CURRENT_USER()")).isEqualTo("answer_moves@%");
            s.execute("SET @kept = 'still here', SESSION sql_mode = 'ANSI_QUOTES'");
            String before = stringOf(c, "SELECT @@server_id");
            assertThat(proxy.api("POST", "/api/debug/redirect").status()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(15)).pollInterval(Duration.ofMillis(50))
                    .until(() -> !stringOf(c, "SELECT @@server_id").equals(before));
            assertThat(stringOf(c, "SELECT @kept")).isEqualTo("still here");
            assertThat(stringOf(c, "SELECT @@sql_mode")).isEqualTo("ANSI_QUOTES");
            assertThat(stringOf(c, "SELECT CURRENT_USER()")).isEqualTo("answer_moves@%");
        }
    }

    @Test
    void afterAPasswordChangeTheNewPasswordLogsInAndTheOldOneIsRefusedByTheBackend() throws Exception {
        createUser("answer_changed", "old-pw");
        awaitAnsweredLogin("answer_changed", "old-pw").close();
        // the proxy's cached hash is now stale: it matches the old password only
        cluster.servers().forEach(s -> s.execAsAdmin("ALTER USER 'answer_changed'@'%' IDENTIFIED BY 'new-pw'"));
        try (Connection c = login("answer_changed", "new-pw")) {
            assertThat(stringOf(c, "SELECT CURRENT_USER()")).isEqualTo("answer_changed@%");
            assertThat(loginPath("answer_changed")).as("a scramble the stale hash does not match").isEqualTo("relayed");
        }
        assertThatThrownBy(() -> login("answer_changed", "old-pw").close())
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1045))
                .hasMessageContaining("answer_changed");
    }

    @Test
    void aWrongPasswordOfACachedAccountGetsTheBackendsOwnRefusal() throws Exception {
        createUser("answer_wrong", "right-pw");
        awaitAnsweredLogin("answer_wrong", "right-pw").close();
        assertThatThrownBy(() -> login("answer_wrong", "wrong-pw").close())
                .isInstanceOf(SQLException.class)
                .satisfies(e -> assertThat(((SQLException) e).getErrorCode()).isEqualTo(1045))
                .hasMessageContaining("Access denied for user 'answer_wrong'");
        try (Connection c = login("answer_wrong", "right-pw")) {
            assertThat(stringOf(c, "SELECT 1")).isEqualTo("1");
        }
    }
}
