package io.tiproxy.proxy.backend;

import java.util.List;

/**
 * The whole response to a command the proxy sent itself: an error, an OK, or a small text result set.
 *
 * @param errorCode   0 unless the backend answered ERR
 * @param columnTypes MySQL field type of each column
 * @param rows        text-protocol values (null for SQL NULL) of each row
 */
public record QueryResult(int errorCode, String errorMessage, List<String> columnNames, List<Integer> columnTypes,
                          List<byte[][]> rows, long statementId) {

    public boolean isError() {
        return errorCode != 0;
    }

    /** The value of column {@code c} in row {@code r} as UTF-8 text, or null. */
    public String text(int r, int c) {
        byte[] v = rows.get(r)[c];
        return v == null ? null : new String(v, java.nio.charset.StandardCharsets.UTF_8);
    }

    public int column(String name) {
        for (int i = 0; i < columnNames.size(); i++) {
            if (columnNames.get(i).equalsIgnoreCase(name)) {
                return i;
            }
        }
        return -1;
    }
}
