package io.tiproxy.proxy.client;

import io.tiproxy.proxy.backend.QueryResult;
import io.tiproxy.session.UserVariable;

import java.util.ArrayList;
import java.util.List;

/** Turns {@code SELECT @v, HEX(@v), CHARSET(@v), COLLATION(@v), ...} back into typed user variables. */
final class UserVariables {
    private UserVariables() {}

    private static final int TYPE_DECIMAL = 0;
    private static final int TYPE_FLOAT = 4;
    private static final int TYPE_DOUBLE = 5;
    private static final int TYPE_NULL = 6;
    private static final int TYPE_NEWDECIMAL = 246;

    static List<UserVariable> parse(List<String> names, QueryResult r) {
        List<UserVariable> out = new ArrayList<>();
        if (r.rows().size() != 1) {
            return out;
        }
        for (int i = 0; i < names.size(); i++) {
            int c = i * 4;
            String text = r.text(0, c);
            String name = names.get(i);
            if (text == null) {
                out.add(new UserVariable(name, UserVariable.Kind.NULL, null, null, null, null));
                continue;
            }
            int type = r.columnTypes().get(c);
            String charset = r.text(0, c + 2);
            UserVariable.Kind kind = switch (type) {
                case 1, 2, 3, 8, 9 -> UserVariable.Kind.INTEGER;
                case TYPE_DECIMAL, TYPE_NEWDECIMAL -> UserVariable.Kind.DECIMAL;
                case TYPE_FLOAT, TYPE_DOUBLE -> UserVariable.Kind.REAL;
                case TYPE_NULL -> UserVariable.Kind.NULL;
                default -> UserVariable.Kind.STRING;
            };
            out.add(new UserVariable(name, kind, text, r.text(0, c + 1), charset, r.text(0, c + 3)));
        }
        return out;
    }
}
