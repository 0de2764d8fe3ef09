package io.tiproxy.session;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The session state the proxy keeps for a MySQL/MariaDB session so that it can rebuild the session on
 * another backend, even after the first backend died: current database, every session variable the
 * session changed (from session tracking), user variables, SQL-level prepared statements, and what pins
 * the session to its backend (temporary tables, advisory locks, LOCK TABLES, XA).
 *
 * <p>Lives on the session's event loop; not thread-safe.
 */
public final class TrackedState implements SessionTrackParser.Listener {

    /** Variables the proxy manages itself or that cannot be set: never restored. */
    private static final Set<String> NOT_RESTORED = Set.of("session_track_system_variables", "session_track_schema",
            "session_track_state_change", "session_track_transaction_info", "in_transaction", "last_gtid",
            "warning_count", "error_count", "last_insert_id", "insert_id", "timestamp", "rand_seed1", "rand_seed2",
            "identity", "pseudo_thread_id", "gtid_seq_no", "server_id", "session_track_gtids");

    /** Restore order: character sets first, then modes, then the rest, transaction behaviour last. */
    private static final List<String> FIRST = List.of("character_set_client", "character_set_connection",
            "character_set_results", "collation_connection", "character_set_database", "collation_database",
            "sql_mode", "time_zone");
    private static final List<String> LAST = List.of("autocommit", "transaction_isolation", "tx_isolation",
            "transaction_read_only", "tx_read_only");
    /** Variables whose empty value means NULL. */
    private static final Set<String> NULLABLE = Set.of("character_set_results");

    private String database;
    private final Map<String, String> systemVariables = new LinkedHashMap<>();
    private final Map<String, UserVariable> userVariables = new LinkedHashMap<>();
    private final Set<String> staleUserVariables = new HashSet<>();
    private final Map<String, String> sqlPrepared = new LinkedHashMap<>();
    private final Set<String> tempTables = new HashSet<>();
    private final Set<String> locks = new HashSet<>();
    private boolean unknownLock;
    private boolean lockTables;
    private boolean xa;

    public TrackedState(String database) {
        this.database = database == null || database.isEmpty() ? null : database;
    }

    // ---- from session tracking ----------------------------------------------------------------

    @Override
    public void onSystemVariable(String name, String value) {
        String key = name.toLowerCase(Locale.ROOT);
        if (!NOT_RESTORED.contains(key)) {
            systemVariables.put(key, value);
        }
    }

    @Override
    public void onSchema(String schema) {
        database = schema == null || schema.isEmpty() ? null : schema;
    }

    // ---- from the classifier -------------------------------------------------------------------

    /** Applies what a client query did (after the backend accepted it). */
    public void apply(SqlClassifier.Effects e) {
        staleUserVariables.addAll(e.assignedUserVars());
        for (SqlClassifier.SqlPrepare p : e.prepares()) {
            String text = p.text();
            if (text == null) {
                UserVariable v = userVariables.get(p.fromVar());
                text = v == null || v.kind() != UserVariable.Kind.STRING ? null : decodeHex(v.hex());
            }
            if (text != null) {
                sqlPrepared.put(p.name().toLowerCase(Locale.ROOT), text);
            } else {
                sqlPrepared.put(p.name().toLowerCase(Locale.ROOT), null);
            }
        }
        e.deallocates().forEach(n -> sqlPrepared.remove(n.toLowerCase(Locale.ROOT)));
        tempTables.addAll(e.tempTablesCreated());
        e.tablesDropped().forEach(tempTables::remove);
        locks.addAll(e.locksTaken());
        e.locksReleased().forEach(locks::remove);
        if (e.allLocksReleased()) {
            locks.clear();
            unknownLock = false;
        }
        unknownLock |= e.unknownLock();
        if (e.lockTables() != null) {
            lockTables = e.lockTables();
        }
        if (e.xaActive() != null) {
            xa = e.xaActive();
        }
    }

    private static String decodeHex(String hex) {
        return new String(java.util.HexFormat.of().parseHex(hex), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** COM_RESET_CONNECTION or COM_CHANGE_USER: the backend forgot everything but the database. */
    public void reset(String newDatabase, boolean keepDatabase) {
        if (!keepDatabase) {
            database = newDatabase;
        }
        systemVariables.clear();
        userVariables.clear();
        staleUserVariables.clear();
        sqlPrepared.clear();
        tempTables.clear();
        locks.clear();
        unknownLock = false;
        lockTables = false;
        xa = false;
    }

    public void setDatabase(String db) {
        database = db;
    }

    /** Values read back from the backend for variables the session assigned. */
    public void updateUserVariables(Collection<UserVariable> values) {
        for (UserVariable v : values) {
            staleUserVariables.remove(v.name());
            if (v.kind() == UserVariable.Kind.NULL) {
                userVariables.remove(v.name());
            } else {
                userVariables.put(v.name(), v);
            }
        }
    }

    // ---- queries -------------------------------------------------------------------------------

    public String database() {
        return database;
    }

    public Map<String, String> systemVariables() {
        return systemVariables;
    }

    public Map<String, UserVariable> userVariables() {
        return userVariables;
    }

    /** User variables assigned since their value was last read from the backend. */
    public Set<String> staleUserVariables() {
        return staleUserVariables;
    }

    public Map<String, String> sqlPreparedStatements() {
        return sqlPrepared;
    }

    /** Why the session cannot leave its backend (state that cannot be moved), or null. */
    public String pinnedReason() {
        if (!tempTables.isEmpty()) {
            return "the session has temporary tables " + tempTables;
        }
        if (!locks.isEmpty() || unknownLock) {
            return "the session holds advisory locks (GET_LOCK)";
        }
        if (lockTables) {
            return "the session holds LOCK TABLES";
        }
        if (xa) {
            return "an XA transaction is active";
        }
        if (sqlPrepared.containsValue(null)) {
            return "a SQL prepared statement's text is unknown";
        }
        return null;
    }

    /** The statement that restores the changed session variables, or null if none changed. */
    public String systemVariablesRestoreSql() {
        if (systemVariables.isEmpty()) {
            return null;
        }
        List<String> order = new ArrayList<>();
        FIRST.stream().filter(systemVariables::containsKey).forEach(order::add);
        systemVariables.keySet().stream().filter(k -> !FIRST.contains(k) && !LAST.contains(k)).forEach(order::add);
        LAST.stream().filter(systemVariables::containsKey).forEach(order::add);
        StringBuilder sql = new StringBuilder("SET ");
        for (int i = 0; i < order.size(); i++) {
            String name = order.get(i);
            if (i > 0) {
                sql.append(", ");
            }
            sql.append("SESSION ").append(name).append(" = ").append(valueLiteral(name, systemVariables.get(name)));
        }
        return sql.toString();
    }

    static String valueLiteral(String name, String value) {
        if (value == null || (value.isEmpty() && NULLABLE.contains(name))) {
            return "NULL";
        }
        if (value.matches("-?\\d+(\\.\\d+)?")) {
            return value;
        }
        return quote(value);
    }

    /** A single-quoted SQL string literal, safe under any sql_mode (no backslash reliance). */
    public static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('\'');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\'') {
                b.append("''");
            } else if (c == '\\') {
                b.append("\\\\");
            } else {
                b.append(c);
            }
        }
        return b.append('\'').toString();
    }
}
