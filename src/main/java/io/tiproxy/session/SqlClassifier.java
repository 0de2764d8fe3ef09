package io.tiproxy.session;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import io.tiproxy.session.SqlLexer.Kind;
import io.tiproxy.session.SqlLexer.Token;

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
        String word = plainFirstWord(buf, from, end);
        if (word == null) {
            byte[] head = new byte[Math.min(len, 64)];
            buf.getBytes(from, head);
            word = firstWord(head);
        }
        return switch (word) {
            case "PREPARE", "DEALLOCATE", "DROP", "CREATE", "XA", "LOAD", "SET" -> true;
            default -> false;
        };
    }

    /** Leading keywords the classifier acts on; any other first word means nothing to it. */
    private static final String[] MATTERING = {"PREPARE", "DEALLOCATE", "DROP", "CREATE", "XA", "LOAD", "SET"};

    /**
     * The first word when the query starts plainly (blanks, then ASCII letters ended by a blank, a
     * parenthesis or the end): one of {@link #MATTERING} in upper case, or "" for any other word; null
     * when it starts otherwise (a comment, a quote...), for the lexer to decide. No allocation.
     */
    static String plainFirstWord(io.netty.buffer.ByteBuf buf, int from, int end) {
        int i = from;
        while (i < end && isBlank(buf.getByte(i))) {
            i++;
        }
        int start = i;
        while (i < end && isAsciiLetter(buf.getByte(i))) {
            i++;
        }
        if (i == start || (i < end && !isBlank(buf.getByte(i)) && buf.getByte(i) != '(' && buf.getByte(i) != ';')) {
            return null;
        }
        for (String w : MATTERING) {
            if (w.length() == i - start && sameLetters(buf, start, w)) {
                return w;
            }
        }
        return "";
    }

    private static boolean sameLetters(io.netty.buffer.ByteBuf buf, int at, String upper) {
        for (int k = 0; k < upper.length(); k++) {
            if ((buf.getByte(at + k) & 0xdf) != upper.charAt(k)) {
                return false;
            }
        }
        return true;
    }

    private static boolean isBlank(byte b) {
        return b == ' ' || b == '\t' || b == '\n' || b == '\r';
    }

    private static boolean isAsciiLetter(byte b) {
        return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z');
    }

    private static String firstWord(byte[] sql) {
        List<Token> tokens = new SqlLexer(new String(sql, 0, Math.min(sql.length, 256), StandardCharsets.UTF_8)).tokens(4);
        return tokens.isEmpty() || tokens.get(0).kind() != Kind.WORD ? "" : tokens.get(0).upper();
    }

    public static Effects classify(byte[] sql) {
        if (!mayMatter(sql)) {
            return Effects.NONE;
        }
        return classify(new String(sql, StandardCharsets.UTF_8));
    }

    public static Effects classify(String sql) {
        List<Token> all = new SqlLexer(sql).tokens(Integer.MAX_VALUE);
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
                if (tok.kind() == Kind.USER_VAR && i + 1 < t.size()
                        && (t.get(i + 1).is(":=") || (t.get(i + 1).is("=") && first.word("SET")))) {
                    vars.add(tok.text());
                } else if (tok.word("INTO")) {
                    for (int j = i + 1; j < t.size() && t.get(j).kind() == Kind.USER_VAR; j += 2) {
                        vars.add(t.get(j).text());
                        if (j + 1 >= t.size() || !t.get(j + 1).is(",")) {
                            break;
                        }
                    }
                } else if (tok.kind() == Kind.WORD && i + 1 < t.size() && t.get(i + 1).is("(")) {
                    lockFunction(tok.upper(), i + 2 < t.size() ? t.get(i + 2) : null);
                }
            }
            String w0 = first.kind() == Kind.WORD ? first.upper() : "";
            if (w0.equals("SET")) {
                setAssignments(t);
            }
            switch (w0) {
                case "PREPARE" -> prepare(t);
                case "DEALLOCATE", "DROP" -> {
                    if (t.size() >= 3 && t.get(1).word("PREPARE")) {
                        deallocates.add(t.get(2).text());
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
                if (tok.kind() == Kind.SYS_VAR) {
                    String n = tok.text().toLowerCase(Locale.ROOT);
                    if ((n.equals("global") || n.equals("session") || n.equals("local"))
                            && i + 2 < t.size() && t.get(i + 1).is(".")) {
                        global = n.equals("global");
                        i += 2;
                        name = t.get(i).text();
                    } else {
                        name = tok.text();
                    }
                } else if (tok.kind() == Kind.WORD) {
                    name = tok.text();
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
                    if (arg != null && arg.kind() == Kind.STRING) {
                        locksTaken.add(arg.text());
                    } else {
                        unknownLock = true;
                    }
                }
                case "RELEASE_LOCK" -> {
                    if (arg != null && arg.kind() == Kind.STRING) {
                        locksReleased.add(arg.text());
                    }
                }
                case "RELEASE_ALL_LOCKS" -> allReleased = true;
                default -> { }
            }
        }

        private void prepare(List<Token> t) {
            if (t.size() >= 4 && t.get(2).word("FROM")) {
                Token src = t.get(3);
                if (src.kind() == Kind.STRING) {
                    prepares.add(new SqlPrepare(t.get(1).text(), src.text(), null));
                } else if (src.kind() == Kind.USER_VAR) {
                    prepares.add(new SqlPrepare(t.get(1).text(), null, src.text()));
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
                return t.get(i + 2).text().toLowerCase(Locale.ROOT);
            }
            return t.get(i).text().toLowerCase(Locale.ROOT);
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
}
