package io.tiproxy.proxy;

import ch.qos.logback.classic.Level;
import io.tiproxy.proxy.client.ClientConnection;
import io.tiproxy.testkit.LogCapture;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * {@code proxy.idle-timeout}: a session idle that long outside a transaction is told why (MySQL's
 * error 4031) and closed, with a log line and a disconnect-reason metric; a session inside a
 * transaction is left to the backend's own {@code wait_timeout}; a busy session is never touched;
 * and a reloaded value applies at once, to sessions already idle too.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class IdleTimeoutTest {
    static final String IDLE_METRIC = "tiproxy_server_disconnection_total{type=\"idle timeout\"}";

    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "  idle-timeout: \"2s\"\n", "");
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static RawMySqlClient rawLogin(TestProxy p) throws Exception {
        RawMySqlClient c = new RawMySqlClient(p.port(), 30_000);
        assertThat(c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
        return c;
    }

    /** Reads what an idle session is sent, and checks it is the idle-timeout error followed by a close. */
    static void assertClosedForIdleness(RawMySqlClient c, String timeout) throws Exception {
        RawMySqlClient.Packet err = c.read();
        assertThat(err.isErr()).as("packet sent to an idle session").isTrue();
        assertThat(err.sequenceId()).isZero();
        assertThat(err.errorCode()).isEqualTo(4031);
        assertThat(err.errorMessage()).contains("inactivity").contains("proxy.idle-timeout (" + timeout + ")");
        RawMySqlClient.expectClosed(c);
    }

    @Test
    @Timeout(60)
    void anIdleSessionIsToldWhyClosedLoggedAndCounted() throws Exception {
        double before = LimitsTest.metric(proxy, IDLE_METRIC);
        try (LogCapture log = LogCapture.of(ClientConnection.class); RawMySqlClient c = rawLogin(proxy)) {
            long idleSince = System.nanoTime();
            assertClosedForIdleness(c, "2s");
            assertThat(System.nanoTime() - idleSince).as("not closed before its 2 s were up")
                    .isGreaterThanOrEqualTo(Duration.ofMillis(1900).toNanos());
            assertThat(log.messages(Level.INFO)).anyMatch(m -> m.contains("closing: The client was disconnected by the proxy because of inactivity"));
        }
        Bystander.await("the idle-timeout disconnection counted", () -> LimitsTest.metric(proxy, IDLE_METRIC) >= before + 1,
                Duration.ofSeconds(10));
    }

    @Test
    @Timeout(90)
    void aSessionInsideATransactionStaysABusyOneStaysAndAnIdleOneOutsideGoes() throws Exception {
        try (Connection inTx = LimitsTest.login(proxy); Bystander busy = Bystander.start(proxy, Duration.ofMillis(300))) {
            try (Statement s = inTx.createStatement()) {
                s.execute("START TRANSACTION");
                s.executeQuery("SELECT 1").close();
            }
            // idle from now on, inside its transaction; a session without one, idle since after it, must go first
            try (RawMySqlClient control = rawLogin(proxy)) {
                assertClosedForIdleness(control, "2s");
            }
            Thread.sleep(1500); // several more sweeps with the transaction idle even longer
            try (Statement s = inTx.createStatement(); ResultSet rs = s.executeQuery("SELECT 2")) {
                rs.next();
                assertThat(rs.getInt(1)).as("the session inside a transaction still works").isEqualTo(2);
                s.execute("COMMIT");
            }
            // out of its transaction, it is an idle session like any other
            int sessions = proxy.server().registry().size();
            Bystander.awaitAtMost("sessions once the committed one is idle too long", () -> proxy.server().registry().size(),
                    sessions - 1, Duration.ofSeconds(20));
            assertThatThrownBy(() -> inTx.createStatement().executeQuery("SELECT 3"))
                    .isInstanceOf(SQLException.class)
                    .satisfies(e -> System.out.println("IdleTimeoutTest: the driver reports: " + e.getMessage()));
            busy.stopAndAssertUnharmed();
        }
    }

    @Test
    @Timeout(90)
    void aReloadedTimeoutAppliesAtOnceToSessionsAlreadyIdle() throws Exception {
        try (TestProxy noTimeout = TestProxy.start(MariaDbCluster.shared().addresses())) {
            try (RawMySqlClient idle = rawLogin(noTimeout)) {
                Thread.sleep(1500);
                LimitsTest.putConfig(noTimeout, "idle-timeout", "idle-timeout: \"1s\"");
                assertClosedForIdleness(idle, "1s");
            }
            LimitsTest.putConfig(noTimeout, "idle-timeout", "idle-timeout: 0");
            try (RawMySqlClient again = rawLogin(noTimeout)) {
                Thread.sleep(3000); // three times the previous timeout
                assertThat(again.query("SELECT 1").payload()).as("an idle session after the timeout was turned off")
                        .containsExactly(1);
            }
        }
    }
}
