package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Sessions that sit idle inside an open transaction (one uncommitted row each) while a backend fails.
 * What the proxy promises them: if their backend died, the next statement gets a clear MySQL error saying
 * the transaction was rolled back and the session goes on; otherwise the transaction is intact and commits.
 */
public final class OpenTransactions implements AutoCloseable {
    /** One open transaction: its connection, the proxy's id for it, the backend port it runs on, the row it inserted. */
    public record Tx(Connection conn, long proxyId, int port, long rowId) {}

    /** What a check found: rows that must exist, rows that must not, and every broken promise. */
    public record Outcome(List<Long> committed, List<Long> rolledBack, List<String> problems) {}

    private final String table;
    private final List<Connection> connections;

    private OpenTransactions(String table, List<Connection> connections) {
        this.table = table;
        this.connections = connections;
    }

    /** Opens {@code count} sessions that will hold transactions inserting into {@code table (id BIGINT PRIMARY KEY)}. */
    public static OpenTransactions open(TestProxy proxy, String table, int count) throws SQLException {
        List<Connection> connections = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            connections.add(DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                    TestAccounts.APP_USER, TestAccounts.APP_PASSWORD));
        }
        return new OpenTransactions(table, connections);
    }

    /** Starts a transaction in every session, each inserting one row (ids from {@code firstId}). */
    public List<Tx> begin(long firstId) throws SQLException {
        List<Tx> txs = new ArrayList<>();
        long id = firstId;
        for (Connection c : connections) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO " + table + " VALUES (" + id + ")");
            }
            long proxyId = c.unwrap(org.mariadb.jdbc.Connection.class).getThreadId();
            txs.add(new Tx(c, proxyId, StatefulSessions.backendPort(c), id));
            id++;
        }
        return txs;
    }

    /** Whether the proxy still has {@code tx}'s session on {@code backend} (read from its registry, no statement sent). */
    public static boolean stillOn(TestProxy proxy, Tx tx, String backend) {
        var c = proxy.server().registry().get(tx.proxyId());
        return c != null && backend.equals(c.backendAddress());
    }

    /**
     * After backend {@code deadPort} died: transactions there must fail cleanly (error 1105 naming the
     * rollback) and their session must work afterwards; the others must commit.
     */
    public static Outcome finish(List<Tx> txs, int deadPort) {
        List<Long> committed = new ArrayList<>();
        List<Long> rolledBack = new ArrayList<>();
        List<String> problems = new ArrayList<>();
        for (Tx tx : txs) {
            String where = "transaction of row " + tx.rowId() + " on port " + tx.port();
            if (tx.port() == deadPort) {
                rolledBack.add(tx.rowId());
                try (Statement s = tx.conn().createStatement()) {
                    s.execute("SELECT 1");
                    problems.add(where + ": the first statement after the crash succeeded; expected an error");
                } catch (SQLException e) {
                    if (e.getErrorCode() != 1105 || !e.getMessage().contains("rolled back")) {
                        problems.add(where + ": expected error 1105 saying the transaction was rolled back, got "
                                + e.getErrorCode() + " " + e.getMessage());
                    }
                }
                try {
                    tx.conn().setAutoCommit(true);
                    if (StatefulSessions.backendPort(tx.conn()) == deadPort) {
                        problems.add(where + ": the session still reports the dead backend");
                    }
                } catch (SQLException e) {
                    problems.add(where + ": the session did not go on after the error: " + e.getErrorCode() + " "
                            + e.getMessage());
                }
            } else {
                try {
                    tx.conn().commit();
                    tx.conn().setAutoCommit(true);
                    committed.add(tx.rowId());
                } catch (SQLException e) {
                    problems.add(where + ": commit on a live backend failed: " + e.getErrorCode() + " " + e.getMessage());
                }
            }
        }
        return new Outcome(committed, rolledBack, problems);
    }

    @Override
    public void close() {
        for (Connection c : connections) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // best effort; the leak check looks at what the proxy still holds
            }
        }
    }
}
