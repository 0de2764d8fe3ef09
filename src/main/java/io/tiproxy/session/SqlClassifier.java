package io.tiproxy.session;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A small SQL lexer (not a parser) that finds, in the text of COM_QUERY, the session state that
 * session tracking does not report: user-variable assignments, SQL PREPARE/DEALLOCATE, temporary
 * tables, advisory locks, LOCK TABLES, XA, LOAD DATA LOCAL. It understands comments (including the
 * executable {@code /*! ... *}{@code /} kind), quoted strings and identifiers, and multi-statements.
 */
public final class SqlClassifier {
    private SqlClassifier() {}

    /** What one query changes besides what session tracking reports. */
    public record Effects(List<String> assignedUserVars, List<String> assignedSessionVars, List<SqlPrepare> prepares, List<String> deallocates,
                          List<String> tempTablesCreated, List<String> tablesDropped,
                          List<String> locksTaken, List<String> locksReleased, boolean allLocksReleased,
                          boolean unknownLock, Boolean lockTables, Boolean xaActive, boolean loadDataLocal) {

        public static final Effects NONE = new Effects(List.of(), List.of(), List.of(), List.of(), List.of(), List.of(),
                List.of(), List.of(), false, false, null, null, false);

        public boolean isEmpty() {
            return this == NONE;
        }
    }

    /** {@code PREPARE name FROM 'text'} or {@code FROM @var} (then {@code text} is null and {@code fromVar} set). */
    public record SqlPrepare(String name, String text, String fromVar) {}

    /** Whether a query can change anything the classifier looks for; a fast check before lexing. */
    public static boolean mayMatter(byte[] sql) {
        for (int i = 0; i < sql.length; i++) {
            byte b = sql[i];
            if (b == '@') {
                return true;
            }
            if ((b == 'l' || b == 'L') && i + 3 < sql.length && (sql[i + 1] | 0x20) == 'o'
                    && (sql[i + 2] | 0x20) == 'c' && (sql[i + 3] | 0x20) == 'k') {
                return true;
            }
        }
        String head = firstWord(sql);
        return switch (head) {
            case "PREPARE", "DEALLOCATE", "DROP", "CREATE", "XA", "LOAD", "SET" -> true;
            default -> false;
        };
    }

    /** {@link #mayMatter(byte[])} on a region of a buffer, without copying it. */
    public static boolean mayMatter(io.netty.buffer.ByteBuf buf, int from, int len) {
        int end = from + len;
        for (int i = from; i < end; i++) {
            byte b = buf.getByte(i);
            if (b == '@') {
                return true;
            }
            if ((b == 'l' || b == 'L') && i + 3 < end && (buf.getByte(i + 1) | 0x20) == 'o'
                    && (buf.getByte(i + 2) | 0x20) == 'c' && (buf.getByte(i + 3) | 0x20) == 'k') {
                return true;
            }
        }
        byte[] head = new byte[Math.min(len, 64)];
        buf.getBytes(from, head);
        return switch (firstWord(head)) {
            case "PREPARE", "DEALLOCATE", "DROP", "CREATE", "XA", "LOAD", "SET" -> true;
            default -> false;
        };
    }

    private static String firstWord(byte[] sql) {
        List<Token> tokens = new Lexer(new String(sql, 0, Math.min(sql.length, 256), StandardCharsets.UTF_8)).tokens(4);
        return tokens.isEmpty() || tokens.get(0).kind != Kind.WORD ? "" : tokens.get(0).upper();
    }

    public static Effects classify(byte[] sql) {
        if (!mayMatter(sql)) {
            return Effects.NONE;
        }
        return classify(new String(sql, StandardCharsets.UTF_8));
    }

    public static Effects classify(String sql) {
        List<Token> all = new Lexer(sql).tokens(Integer.MAX_VALUE);
        Collector c = new Collector();
        int start = 0;
        for (int i = 0; i <= all.size(); i++) {
            if (i == all.size() || all.get(i).is(";")) {
                if (i > start) {
                    c.statement(all.subList(start, i));
                }
                start = i + 1;
            }
        }
        return c.result();
    }

    enum Kind { WORD, USER_VAR, SYS_VAR, STRING, NUMBER, PUNCT }

    record Token(Kind kind, String text) {
        boolean is(String punct) {
            return kind == Kind.PUNCT && text.equals(punct);
        }

        boolean word(String w) {
            return kind == Kind.WORD && text.equalsIgnoreCase(w);
        }

        String upper() {
            return text.toUpperCase(Locale.ROOT);
        }
    }

    /** Gathers effects statement by statement. */
    private static final class Collector {
        final List<String> vars = new ArrayList<>();
        final List<String> sessionVars = new ArrayList<>();
        final List<SqlPrepare> prepares = new ArrayList<>();
        final List<String> deallocates = new ArrayList<>();
        final List<String> tempCreated = new ArrayList<>();
        final List<String> dropped = new ArrayList<>();
        final List<String> locksTaken = new ArrayList<>();
        final List<String> locksReleased = new ArrayList<>();
        boolean allReleased;
        boolean unknownLock;
        Boolean lockTables;
        Boolean xa;
        boolean loadLocal;

        void statement(List<Token> t) {
            Token first = t.get(0);
            for (int i = 0; i < t.size(); i++) {
                Token tok = t.get(i);
                if (tok.kind == Kind.USER_VAR && i + 1 < t.size()
                        && (t.get(i + 1).is(":=") || (t.get(i + 1).is("=") && first.word("SET")))) {
                    vars.add(tok.text);
                } else if (tok.word("INTO")) {
                    for (int j = i + 1; j < t.size() && t.get(j).kind == Kind.USER_VAR; j += 2) {
                        vars.add(t.get(j).text);
                        if (j + 1 >= t.size() || !t.get(j + 1).is(",")) {
                            break;
                        }
                    }
                } else if (tok.kind == Kind.WORD && i + 1 < t.size() && t.get(i + 1).is("(")) {
                    lockFunction(tok.upper(), i + 2 < t.size() ? t.get(i + 2) : null);
                }
            }
            String w0 = first.kind == Kind.WORD ? first.upper() : "";
            if (w0.equals("SET")) {
                setAssignments(t);
            }
            switch (w0) {
                case "PREPARE" -> prepare(t);
                case "DEALLOCATE", "DROP" -> {
                    if (t.size() >= 3 && t.get(1).word("PREPARE")) {
                        deallocates.add(t.get(2).text);
                    } else if (w0.equals("DROP")) {
                        dropTables(t);
                    }
                }
                case "CREATE" -> createTemporary(t);
                case "LOCK" -> {
                    if (t.size() > 1 && (t.get(1).word("TABLES") || t.get(1).word("TABLE"))) {
                        lockTables = true;
                    }
                }
                case "UNLOCK" -> lockTables = false;
                case "XA" -> {
                    if (t.size() > 1) {
                        String w1 = t.get(1).upper();
                        if (w1.equals("START") || w1.equals("BEGIN")) {
                            xa = true;
                        } else if (w1.equals("COMMIT") || w1.equals("ROLLBACK")) {
                            xa = false;
                        }
                    }
                }
                case "LOAD" -> loadLocal |= t.stream().anyMatch(x -> x.word("LOCAL"));
                default -> { }
            }
        }

        /** {@code SET [SESSION|LOCAL] name = ..., @@[session.]name = ...}: session variables assigned (not GLOBAL). */
        private void setAssignments(List<Token> t) {
            int i = 1;
            while (i < t.size()) {
                boolean global = false;
                if (t.get(i).word("GLOBAL")) {
                    global = true;
                    i++;
                } else if (t.get(i).word("SESSION") || t.get(i).word("LOCAL")) {
                    i++;
                }
                if (i >= t.size()) {
                    break;
                }
                Token tok = t.get(i);
                String name = null;
                if (tok.kind == Kind.SYS_VAR) {
                    String n = tok.text.toLowerCase(Locale.ROOT);
                    if ((n.equals("global") || n.equals("session") || n.equals("local"))
                            && i + 2 < t.size() && t.get(i + 1).is(".")) {
                        global = n.equals("global");
                        i += 2;
                        name = t.get(i).text;
                    } else {
                        name = tok.text;
                    }
                } else if (tok.kind == Kind.WORD) {
                    name = tok.text;
                }
                if (name != null && !global && i + 1 < t.size() && (t.get(i + 1).is("=") || t.get(i + 1).is(":="))) {
                    sessionVars.add(name.toLowerCase(Locale.ROOT));
                }
                int depth = 0;
                while (i < t.size()) {
                    Token x = t.get(i++);
                    if (x.is("(")) {
                        depth++;
                    } else if (x.is(")")) {
                        depth--;
                    } else if (x.is(",") && depth == 0) {
                        break;
                    }
                }
            }
        }

        private void lockFunction(String fn, Token arg) {
            switch (fn) {
                case "GET_LOCK" -> {
                    if (arg != null && arg.kind == Kind.STRING) {
                        locksTaken.add(arg.text);
                    } else {
                        unknownLock = true;
                    }
                }
                case "RELEASE_LOCK" -> {
                    if (arg != null && arg.kind == Kind.STRING) {
                        locksReleased.add(arg.text);
                    }
                }
                case "RELEASE_ALL_LOCKS" -> allReleased = true;
                default -> { }
            }
        }

        private void prepare(List<Token> t) {
            if (t.size() >= 4 && t.get(2).word("FROM")) {
                Token src = t.get(3);
                if (src.kind == Kind.STRING) {
                    prepares.add(new SqlPrepare(t.get(1).text, src.text, null));
                } else if (src.kind == Kind.USER_VAR) {
                    prepares.add(new SqlPrepare(t.get(1).text, null, src.text));
                }
            }
        }

        private void createTemporary(List<Token> t) {
            int i = 1;
            if (i + 1 < t.size() && t.get(i).word("OR") && t.get(i + 1).word("REPLACE")) {
                i += 2;
            }
            if (i + 1 < t.size() && t.get(i).word("TEMPORARY") && t.get(i + 1).word("TABLE")) {
                i += 2;
                if (i + 2 < t.size() && t.get(i).word("IF") && t.get(i + 1).word("NOT") && t.get(i + 2).word("EXISTS")) {
                    i += 3;
                }
                if (i < t.size()) {
                    tempCreated.add(qualifiedName(t, i));
                }
            }
        }

        private void dropTables(List<Token> t) {
            int i = 1;
            if (i < t.size() && t.get(i).word("TEMPORARY")) {
                i++;
            }
            if (i >= t.size() || !t.get(i).word("TABLE")) {
                return;
            }
            i++;
            if (i + 1 < t.size() && t.get(i).word("IF") && t.get(i + 1).word("EXISTS")) {
                i += 2;
            }
            while (i < t.size()) {
                dropped.add(qualifiedName(t, i));
                while (i < t.size() && !t.get(i).is(",")) {
                    i++;
                }
                i++;
            }
        }

        /** The table name at i, without a schema qualifier (temporary tables are matched by name). */
        private static String qualifiedName(List<Token> t, int i) {
            if (i + 2 < t.size() && t.get(i + 1).is(".")) {
                return t.get(i + 2).text.toLowerCase(Locale.ROOT);
            }
            return t.get(i).text.toLowerCase(Locale.ROOT);
        }

        Effects result() {
            if (vars.isEmpty() && sessionVars.isEmpty() && prepares.isEmpty() && deallocates.isEmpty() && tempCreated.isEmpty()
                    && dropped.isEmpty() && locksTaken.isEmpty() && locksReleased.isEmpty() && !allReleased
                    && !unknownLock && lockTables == null && xa == null && !loadLocal) {
                return Effects.NONE;
            }
            return new Effects(List.copyOf(vars), List.copyOf(sessionVars), List.copyOf(prepares), List.copyOf(deallocates),
                    List.copyOf(tempCreated), List.copyOf(dropped), List.copyOf(locksTaken),
                    List.copyOf(locksReleased), allReleased, unknownLock, lockTables, xa, loadLocal);
        }
    }

    /** Splits SQL text into tokens, skipping whitespace and comments. */
    private static final class Lexer {
        private final String s;
        private int i;

        Lexer(String s) {
            this.s = s;
        }

        List<Token> tokens(int max) {
            List<Token> out = new ArrayList<>();
            while (out.size() < max) {
                Token t = next();
                if (t == null) {
                    break;
                }
                out.add(t);
            }
            return out;
        }

        private Token next() {
            skipSpaceAndComments();
            if (i >= s.length()) {
                return null;
            }
            char c = s.charAt(i);
            if (c == '\'' || c == '"') {
                return new Token(Kind.STRING, quoted(c));
            }
            if (c == '`') {
                return new Token(Kind.WORD, quoted('`'));
            }
            if (c == '@') {
                if (i + 1 < s.length() && s.charAt(i + 1) == '@') {
                    i += 2;
                    return new Token(Kind.SYS_VAR, word());
                }
                i++;
                if (i < s.length() && (s.charAt(i) == '\'' || s.charAt(i) == '"' || s.charAt(i) == '`')) {
                    return new Token(Kind.USER_VAR, quoted(s.charAt(i)).toLowerCase(Locale.ROOT));
                }
                return new Token(Kind.USER_VAR, word().toLowerCase(Locale.ROOT));
            }
            if (c == ':' && i + 1 < s.length() && s.charAt(i + 1) == '=') {
                i += 2;
                return new Token(Kind.PUNCT, ":=");
            }
            if (Character.isDigit(c)) {
                int st = i;
                while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '.')) {
                    i++;
                }
                return new Token(Kind.NUMBER, s.substring(st, i));
            }
            if (isWordChar(c)) {
                return new Token(Kind.WORD, word());
            }
            i++;
            return new Token(Kind.PUNCT, String.valueOf(c));
        }

        private String word() {
            int st = i;
            while (i < s.length() && isWordChar(s.charAt(i))) {
                i++;
            }
            return s.substring(st, i);
        }

        private static boolean isWordChar(char c) {
            return Character.isLetterOrDigit(c) || c == '_' || c == '$' || c > 0x7f;
        }

        private String quoted(char q) {
            StringBuilder b = new StringBuilder();
            i++;
            while (i < s.length()) {
                char c = s.charAt(i++);
                if (c == '\\' && q != '`' && i < s.length()) {
                    char e = s.charAt(i++);
                    b.append(switch (e) {
                        case 'n' -> '\n';
                        case 't' -> '\t';
                        case 'r' -> '\r';
                        case '0' -> '\0';
                        case 'Z' -> (char) 26;
                        default -> e;
                    });
                } else if (c == q) {
                    if (i < s.length() && s.charAt(i) == q) {
                        b.append(q);
                        i++;
                    } else {
                        return b.toString();
                    }
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }

        private void skipSpaceAndComments() {
            while (i < s.length()) {
                char c = s.charAt(i);
                if (Character.isWhitespace(c)) {
                    i++;
                } else if (c == '#' || (c == '-' && s.startsWith("-- ", i)) || (c == '-' && s.startsWith("--\n", i))) {
                    int nl = s.indexOf('\n', i);
                    i = nl < 0 ? s.length() : nl + 1;
                } else if (c == '/' && s.startsWith("/*", i)) {
                    if (s.startsWith("/*!", i) || s.startsWith("/*M!", i)) {
                        // executable comment: its content is SQL; skip the marker and version digits
                        i += s.startsWith("/*M!", i) ? 4 : 3;
                        while (i < s.length() && Character.isDigit(s.charAt(i))) {
                            i++;
                        }
                    } else {
                        int end = s.indexOf("*/", i + 2);
                        i = end < 0 ? s.length() : end + 2;
                    }
                } else if (c == '*' && s.startsWith("*/", i)) {
                    i += 2; // end of an executable comment
                } else {
                    return;
                }
            }
        }
    }
}
