package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Writers that insert through the proxy (server-side prepared statements, alternating autocommit inserts
 * and two-row transactions) and record each id whose commit was acknowledged. At the end every acknowledged
 * id must be on every node: counted there directly, not through the proxy.
 *
 * <p>Each writer keeps one connection for its whole life. An error is recorded and the writer goes on with
 * its next statement on the same connection; if the connection itself is gone (the proxy dropped the
 * session) that is recorded as a disconnect and the writer stops.
 */
public final class AckedWriters {
    /** One failed statement: its writer, MySQL error code and message, and whether the connection died with it. */
    public record WriterError(int writer, int code, String message, boolean disconnected) {
        @Override
        public String toString() {
            return "writer " + writer + (disconnected ? " DISCONNECTED" : "") + ": " + code + " " + message;
        }
    }

    private final TestProxy proxy;
    private final String table;
    private final Set<Long> acked = ConcurrentHashMap.newKeySet();
    private final List<WriterError> errors = new CopyOnWriteArrayList<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLongArray ackedBy;
    private final List<Thread> threads = new ArrayList<>();

    private AckedWriters(TestProxy proxy, String table, int writers) {
        this.proxy = proxy;
        this.table = table;
        this.ackedBy = new AtomicLongArray(writers);
    }

    /** Starts {@code writers} threads inserting into {@code table (id BIGINT PRIMARY KEY, writer INT)}. */
    public static AckedWriters start(TestProxy proxy, String table, int writers) {
        AckedWriters w = new AckedWriters(proxy, table, writers);
        for (int i = 0; i < writers; i++) {
            final int writer = i;
            Thread t = new Thread(() -> w.write(writer), "acked-writer-" + i);
            t.setDaemon(true);
            t.start();
            w.threads.add(t);
        }
        return w;
    }

    public int ackedCount() {
        return acked.size();
    }

    /** Acknowledged commits of each writer so far. */
    public long[] ackedPerWriter() {
        long[] out = new long[ackedBy.length()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ackedBy.get(i);
        }
        return out;
    }

    public List<WriterError> errors() {
        return List.copyOf(errors);
    }

    /** Stops the writers and waits for them. */
    public void stop() throws InterruptedException {
        running.set(false);
        for (Thread t : threads) {
            t.join(60_000);
            if (t.isAlive()) {
                throw new IllegalStateException(t.getName() + " did not stop within 60 s");
            }
        }
    }

    /**
     * For each node: acknowledged ids missing there (read directly, with {@code wsrep_sync_wait} so that a node
     * answers only after applying everything it has received), and how many rows it holds.
     */
    public Map<String, String> missingOnEachNode(List<MariaDbServer> nodes) throws SQLException {
        Map<String, String> report = new LinkedHashMap<>();
        for (MariaDbServer node : nodes) {
            Set<Long> present = new HashSet<>();
            try (Connection c = DriverManager.getConnection(node.jdbcUrl(), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                 Statement s = c.createStatement()) {
                s.execute("SET SESSION wsrep_sync_wait = 1");
                try (ResultSet rs = s.executeQuery("SELECT id FROM " + table)) {
                    while (rs.next()) {
                        present.add(rs.getLong(1));
                    }
                }
            }
            List<Long> missing = acked.stream().filter(id -> !present.contains(id)).sorted().toList();
            report.put(node.address(), missing.isEmpty() ? "" : missing.size() + " of " + acked.size()
                    + " acknowledged ids missing (" + present.size() + " rows), first "
                    + missing.subList(0, Math.min(10, missing.size())));
        }
        return report;
    }

    private void write(int writer) {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             PreparedStatement ins = c.prepareStatement("INSERT INTO " + table + " VALUES (?, ?)")) {
            try (Statement s = c.createStatement()) {
                s.execute("SET @writer = " + writer);
            }
            long next = writer * 100_000_000L;
            while (running.get()) {
                try {
                    if (next % 2 == 0) {
                        insert(ins, next, writer);
                        ack(writer, next);
                        next++;
                    } else {
                        c.setAutoCommit(false);
                        insert(ins, next, writer);
                        insert(ins, next + 1, writer);
                        c.commit();
                        c.setAutoCommit(true);
                        ack(writer, next);
                        ack(writer, next + 1);
                        next += 3; // keeps the autocommit / transaction alternation
                    }
                    Thread.sleep(2);
                } catch (SQLException e) {
                    next += 3; // ids of a failed statement are never reused: they may or may not be committed
                    boolean alive = isAlive(c);
                    errors.add(new WriterError(writer, e.getErrorCode(), e.getMessage(), !alive));
                    if (!alive) {
                        return;
                    }
                }
            }
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT @writer")) {
                if (!rs.next() || rs.getInt(1) != writer) {
                    errors.add(new WriterError(writer, 0, "user variable @writer lost", false));
                }
            }
        } catch (SQLException | InterruptedException | RuntimeException e) {
            errors.add(new WriterError(writer, e instanceof SQLException s ? s.getErrorCode() : 0, e.toString(), true));
        }
    }

    private static void insert(PreparedStatement ins, long id, int writer) throws SQLException {
        ins.setLong(1, id);
        ins.setInt(2, writer);
        ins.executeUpdate();
    }

    private void ack(int writer, long id) {
        acked.add(id);
        ackedBy.incrementAndGet(writer);
    }

    /** After an error: back to autocommit, and whether the connection still works. */
    private static boolean isAlive(Connection c) {
        try {
            if (c.isClosed()) {
                return false;
            }
            c.setAutoCommit(true);
            return c.isValid(10);
        } catch (SQLException e) {
            return false;
        }
    }
}
