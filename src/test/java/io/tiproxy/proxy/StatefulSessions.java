package io.tiproxy.proxy;

import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Client sessions that keep working through the proxy while a test moves the ground under them. Each
 * session has state a migration must carry: a user variable {@code @n}, a SQL {@code PREPARE}d
 * statement and a server-side (binary protocol) prepared statement. Each runs, every {@code pause}, both
 * statements and checks their answers (which depend on {@code @n}), and notes which backend
 * ({@code @@server_id}) answered. Any error or wrong answer is kept; a session whose connection is gone
 * stops.
 */
public final class StatefulSessions {
    private final List<Thread> threads = new ArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private final AtomicLong rounds = new AtomicLong();
    private final AtomicLongArray serverIds;
    private volatile boolean running = true;

    private StatefulSessions(int sessions) {
        this.serverIds = new AtomicLongArray(sessions);
    }

    /** Opens {@code sessions} sessions through {@code proxy} (all before returning) and starts their loops. */
    public static StatefulSessions start(TestProxy proxy, int sessions, Duration pause) throws SQLException {
        StatefulSessions s = new StatefulSessions(sessions);
        List<Connection> connections = new ArrayList<>();
        for (int i = 0; i < sessions; i++) {
            Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
            try (Statement st = c.createStatement()) {
                st.execute("SET @n = " + (i + 1) * 1000);
                st.execute("PREPARE twice FROM 'SELECT ? * 2'");
            }
            connections.add(c);
        }
        for (int i = 0; i < sessions; i++) {
            final int session = i;
            Connection c = connections.get(i);
            Thread t = new Thread(() -> s.loop(session, c, pause.toMillis()), "stateful-session-" + i);
            t.setDaemon(true);
            t.start();
            s.threads.add(t);
        }
        return s;
    }

    /** Rounds completed by all sessions together. */
    public long rounds() {
        return rounds.get();
    }

    /** Waits until {@code more} further rounds are done (the sessions make progress). */
    public void awaitProgress(long more, Duration atMost) {
        long target = rounds() + more;
        await().atMost(atMost).until(() -> rounds() >= target || !errors.isEmpty());
        assertThat(errors).as("session errors").isEmpty();
    }

    /** The {@code @@server_id} that answered each session's last round. */
    public List<Long> serverIds() {
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < serverIds.length(); i++) {
            out.add(serverIds.get(i));
        }
        return out;
    }

    public List<String> errors() {
        return List.copyOf(errors);
    }

    /** Stops the loops and waits for them; each session checks its state one last time. */
    public void stop() throws InterruptedException {
        running = false;
        for (Thread t : threads) {
            t.join(60_000);
            if (t.isAlive()) {
                throw new IllegalStateException(t.getName() + " did not stop within 60 s");
            }
        }
    }

    private void loop(int session, Connection c, long pauseMillis) {
        long n = (session + 1) * 1000L;
        try (c; PreparedStatement ps = c.prepareStatement("SELECT ? + @n, @@server_id");
             Statement st = c.createStatement()) {
            for (int i = 1; running; i++) {
                try {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        check(session, "binary prepared", rs.getLong(1), n + i);
                        serverIds.set(session, rs.getLong(2));
                    }
                    try (ResultSet rs = st.executeQuery("EXECUTE twice USING @n")) {
                        rs.next();
                        check(session, "SQL PREPARE", rs.getLong(1), 2 * n);
                    }
                    rounds.incrementAndGet();
                } catch (SQLException e) {
                    errors.add("session " + session + " round " + i + ": " + e.getErrorCode() + " " + e.getMessage());
                    if (c.isClosed() || !c.isValid(10)) {
                        return;
                    }
                }
                Thread.sleep(pauseMillis);
            }
        } catch (SQLException e) {
            errors.add("session " + session + ": " + e.getErrorCode() + " " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void check(int session, String what, long actual, long expected) {
        if (actual != expected) {
            errors.add("session " + session + ": " + what + " answered " + actual + ", expected " + expected);
        }
    }
}
