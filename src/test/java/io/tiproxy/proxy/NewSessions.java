package io.tiproxy.proxy;

import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A client that opens a new session through the proxy every {@code pause}, runs one statement there,
 * notes which backend ({@code @@server_id}) answered, and leaves. Every error is kept, with its MySQL
 * error code (a Galera node that is not ready answers 1047).
 */
public final class NewSessions {
    /** Runs on each new session before it leaves; a statement that only a serving node can answer. */
    public static final String STATEMENT = "SELECT COUNT(*) FROM information_schema.tables";

    private final List<Long> serverIds = new CopyOnWriteArrayList<>();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean running = true;

    private NewSessions(TestProxy proxy, Duration pause) {
        this.thread = new Thread(() -> loop(proxy, pause.toMillis()), "new-sessions");
        thread.setDaemon(true);
    }

    public static NewSessions start(TestProxy proxy, Duration pause) {
        NewSessions n = new NewSessions(proxy, pause);
        n.thread.start();
        return n;
    }

    private void loop(TestProxy proxy, long pauseMillis) {
        while (running) {
            try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER,
                    TestAccounts.APP_PASSWORD); Statement st = c.createStatement()) {
                long serverId;
                try (ResultSet rs = st.executeQuery("SELECT @@server_id")) {
                    rs.next();
                    serverId = rs.getLong(1);
                }
                try (ResultSet rs = st.executeQuery(STATEMENT)) {
                    rs.next();
                }
                serverIds.add(serverId);
            } catch (SQLException e) {
                errors.add(e.getErrorCode() + " " + e.getMessage());
            }
            try {
                Thread.sleep(pauseMillis);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Sessions that ran their statement so far. */
    public int completed() {
        return serverIds.size();
    }

    /** The backend of the last completed session, or 0. */
    public long lastServerId() {
        List<Long> ids = List.copyOf(serverIds);
        return ids.isEmpty() ? 0 : ids.get(ids.size() - 1);
    }

    /** The backends of the sessions completed after the first {@code from}, in order. */
    public List<Long> serverIdsSince(int from) {
        List<Long> ids = List.copyOf(serverIds);
        return ids.subList(Math.min(from, ids.size()), ids.size());
    }

    public List<String> errors() {
        return List.copyOf(errors);
    }

    public void stop() throws InterruptedException {
        running = false;
        thread.join(60_000);
        if (thread.isAlive()) {
            throw new IllegalStateException("new-sessions did not stop within 60 s");
        }
    }
}
