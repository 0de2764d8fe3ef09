package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Idle sessions through the proxy, each with its own state: a default database, user variables, session
 * variables, a server-side prepared statement (the driver's binary protocol) and an SQL {@code PREPARE}.
 * {@link #verify()} reads all of it back through the same connections: any session lost, reconnected or
 * rebuilt without its state shows up as a problem.
 */
public final class StatefulSessions implements AutoCloseable {
    /** One session; {@code proxyId} is the connection id the proxy gave it (its registry key). */
    public record Session(int n, Connection conn, PreparedStatement binary, long proxyId) {}

    private final String database;
    private final List<Session> sessions;

    private StatefulSessions(String database, List<Session> sessions) {
        this.database = database;
        this.sessions = sessions;
    }

    /** Opens {@code count} sessions; {@code database} must exist on every backend and differ from the URL's. */
    public static StatefulSessions open(TestProxy proxy, int count, String database) throws SQLException {
        List<Session> sessions = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                Connection c = DriverManager.getConnection(proxy.mariadbUrl("useServerPrepStmts=true"),
                        TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
                try (Statement s = c.createStatement()) {
                    s.execute("USE " + database);
                    s.execute("SET @n = " + i + ", @tag = 'session-" + i + "'");
                    s.execute("SET SESSION time_zone = '+0" + (i % 9) + ":00', SESSION sql_mode = '" + sqlMode(i) + "'");
                    s.execute("PREPARE tripled FROM 'SELECT ? * 3'");
                }
                PreparedStatement binary = c.prepareStatement("SELECT ? + @n");
                long proxyId = c.unwrap(org.mariadb.jdbc.Connection.class).getThreadId();
                sessions.add(new Session(i, c, binary, proxyId));
            }
        } catch (SQLException | RuntimeException e) {
            new StatefulSessions(database, sessions).close();
            throw e;
        }
        return new StatefulSessions(database, sessions);
    }

    private static String sqlMode(int n) {
        return n % 2 == 0 ? "ANSI_QUOTES,STRICT_TRANS_TABLES" : "NO_ENGINE_SUBSTITUTION";
    }

    public List<Session> sessions() {
        return sessions;
    }

    /** Reads every session's state back; returns one line per problem (empty: all intact). */
    public List<String> verify() {
        List<String> problems = new ArrayList<>();
        for (Session s : sessions) {
            String problem = verify(s);
            if (problem != null) {
                problems.add("session " + s.n() + " (proxy id " + s.proxyId() + "): " + problem);
            }
        }
        return problems;
    }

    private String verify(Session s) {
        try (Statement st = s.conn().createStatement()) {
            try (ResultSet rs = st.executeQuery("SELECT @n, @tag, DATABASE(), @@time_zone, @@sql_mode")) {
                rs.next();
                String expected = s.n() + "|session-" + s.n() + "|" + database + "|+0" + (s.n() % 9) + ":00|" + sqlMode(s.n());
                String got = rs.getString(1) + "|" + rs.getString(2) + "|" + rs.getString(3) + "|" + rs.getString(4)
                        + "|" + rs.getString(5);
                if (!expected.equals(got)) {
                    return "state is " + got + ", expected " + expected;
                }
            }
            try (ResultSet rs = st.executeQuery("EXECUTE tripled USING @n")) {
                rs.next();
                if (rs.getLong(1) != 3L * s.n()) {
                    return "SQL prepared statement answered " + rs.getLong(1) + ", expected " + 3L * s.n();
                }
            }
            s.binary().setInt(1, 1000);
            try (ResultSet rs = s.binary().executeQuery()) {
                rs.next();
                if (rs.getLong(1) != 1000L + s.n()) {
                    return "server-side prepared statement answered " + rs.getLong(1) + ", expected " + (1000 + s.n());
                }
            }
            return null;
        } catch (SQLException e) {
            return "error " + e.getErrorCode() + ": " + e.getMessage();
        }
    }

    /**
     * The sessions the proxy has on {@code backend} now, read from its registry (no statement is sent, so
     * this works while that backend hangs).
     */
    public List<Session> on(TestProxy proxy, String backend) {
        return sessions.stream().filter(s -> {
            var c = proxy.server().registry().get(s.proxyId());
            return c != null && backend.equals(c.backendAddress());
        }).toList();
    }

    /** The backend port a session is on, asked through the session ({@code @@port}). */
    public static int backendPort(Connection c) throws SQLException {
        try (Statement st = c.createStatement(); ResultSet rs = st.executeQuery("SELECT @@port")) {
            rs.next();
            return rs.getInt(1);
        }
    }

    @Override
    public void close() {
        for (Session s : sessions) {
            try {
                s.conn().close();
            } catch (SQLException ignored) {
                // closing is best effort; the leak check looks at what the proxy still holds
            }
        }
    }
}
