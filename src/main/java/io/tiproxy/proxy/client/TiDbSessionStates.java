package io.tiproxy.proxy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.proxy.backend.QueryResult;

import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The answer of TiDB's {@code SHOW SESSION_STATES}: one row, columns {@code Session_states} and
 * {@code Session_token} (read by name), both JSON. The proxy reads only {@code current-db} from the
 * states and passes states and token on as opaque text (TIDB-FACTS "Migration exchange", "Session token").
 *
 * @param states the states JSON exactly as TiDB sent it
 * @param token  the token JSON exactly as TiDB sent it, or null when TiDB has no signing certificate
 */
record TiDbSessionStates(String states, byte[] token, String currentDb) {
    static final String SHOW_SQL = "SHOW SESSION_STATES";
    static final String STATES_COLUMN = "Session_states";
    static final String TOKEN_COLUMN = "Session_token";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Reads the row of a successful {@code SHOW SESSION_STATES}; malformed input is an IOException. */
    static TiDbSessionStates parse(QueryResult result) throws IOException {
        int statesCol = result.column(STATES_COLUMN);
        int tokenCol = result.column(TOKEN_COLUMN);
        if (statesCol < 0 || tokenCol < 0) {
            throw new IOException("SHOW SESSION_STATES answered without the columns " + STATES_COLUMN + " and "
                    + TOKEN_COLUMN + ": " + result.columnNames());
        }
        if (result.rows().size() != 1) {
            throw new IOException("SHOW SESSION_STATES answered " + result.rows().size() + " rows, expected 1");
        }
        String states = result.text(0, statesCol);
        if (states == null) {
            throw new IOException("SHOW SESSION_STATES answered NULL session states");
        }
        JsonNode root = JSON.readTree(states);
        if (root == null || !root.isObject()) {
            throw new IOException("session states are not a JSON object");
        }
        JsonNode db = root.get("current-db");
        String currentDb = db == null || db.isNull() || db.asText().isEmpty() ? null : db.asText();
        byte[] token = result.rows().get(0)[tokenCol];
        if (token != null) {
            JsonNode t = JSON.readTree(token);
            if (t == null || !t.isObject()) {
                throw new IOException("session token is not a JSON object");
            }
        }
        return new TiDbSessionStates(states, token, currentDb);
    }

    /** {@code SET SESSION_STATES '<json>'}: single quotes (double quotes break under ANSI_QUOTES). */
    String restoreSql() {
        return "SET SESSION_STATES '" + escape(states) + "'";
    }

    /** Escapes a string for a single-quoted SQL literal: {@code \ -> \\}, {@code ' -> \'}. */
    static String escape(String s) {
        StringBuilder b = new StringBuilder(s.length() + 16);
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' || c == '\'') {
                b.append('\\');
            }
            b.append(c);
        }
        return b.toString();
    }

    @Override
    public String toString() {
        return "TiDbSessionStates[db=" + currentDb + ", " + states.getBytes(StandardCharsets.UTF_8).length
                + " bytes, token=" + (token == null ? "none" : "******") + "]";
    }
}
