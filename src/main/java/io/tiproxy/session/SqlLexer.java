package io.tiproxy.session;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Splits SQL text into tokens for {@link SqlClassifier}, skipping whitespace and comments. It knows
 * quoted strings and identifiers, user and system variables, numbers and the executable
 * {@code /*! ... *}{@code /} comments whose content MySQL runs.
 */
final class SqlLexer {
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

    private final String s;
    private int i;

    SqlLexer(String s) {
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
