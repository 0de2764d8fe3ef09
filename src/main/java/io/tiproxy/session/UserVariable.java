package io.tiproxy.session;

import java.util.HexFormat;
import java.util.Locale;

/**
 * A user variable's exact value and type, as read back from a backend, and the SQL literal that
 * recreates it: integers and decimals as written, reals as approximate literals, strings as hex with
 * their character set and collation, binary strings as plain hex.
 *
 * @param kind     what MariaDB/MySQL stores: INTEGER, DECIMAL, REAL or STRING (or NULL)
 * @param text     the value as text (numbers) or null
 * @param hex      the value's bytes in hex (strings) or null
 * @param charset  character set of a string value ("binary" for binary strings)
 * @param collation collation of a string value
 */
public record UserVariable(String name, Kind kind, String text, String hex, String charset, String collation) {

    public enum Kind { NULL, INTEGER, DECIMAL, REAL, STRING }

    /** The expression that recreates the value with its type, for {@code SET @name = <literal>}. */
    public String literal() {
        return switch (kind) {
            case NULL -> "NULL";
            case INTEGER, DECIMAL -> text;
            case REAL -> text.toLowerCase(Locale.ROOT).contains("e") || text.contains("inf") || text.contains("nan")
                    ? text : text + "E0";
            case STRING -> hex.isEmpty()
                    ? ("binary".equals(charset) ? "BINARY ''" : "_" + charset + " '' COLLATE " + collation)
                    : "binary".equals(charset) ? "X'" + hex + "'"
                    : "_" + charset + " X'" + hex + "' COLLATE " + collation;
        };
    }

    /** {@code SET @`name` = literal}, with the name quoted as an identifier. */
    public String assignment() {
        return "@`" + name.replace("`", "``") + "` = " + literal();
    }

    public static String hex(byte[] bytes) {
        return HexFormat.of().withUpperCase().formatHex(bytes);
    }
}
