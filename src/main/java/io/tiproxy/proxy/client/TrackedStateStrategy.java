package io.tiproxy.proxy.client;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.proxy.backend.Credential;
import io.tiproxy.proxy.backend.QueryResult;
import io.tiproxy.session.TrackedState;
import io.tiproxy.session.UserVariable;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * MySQL/MariaDB: the proxy tracks the session's state itself (session tracking + SQL lexer) and logs
 * in on the new backend with SHA1(password) derived from the client's own login and the account's
 * stored hash. Because the state is held, an idle session survives its backend's crash.
 */
final class TrackedStateStrategy implements MigrationStrategy {

    static final String TRACKING_SQL = "SET SESSION session_track_system_variables='*', "
            + "SESSION session_track_schema=ON, SESSION session_track_state_change=ON, "
            + "SESSION session_track_transaction_info='CHARACTERISTICS'";
    private static final String STMT_VAR = "@`__tiproxy_stmt`";

    private final ClientConnection conn;
    private Credential.NativeHash credential;
    private String credentialProblem;

    TrackedStateStrategy(ClientConnection conn) {
        this.conn = conn;
    }

    @Override
    public String credentialProblem() {
        return credentialProblem;
    }

    @Override
    public void forgetCredential() {
        credential = null;
        credentialProblem = null;
    }

    /**
     * Session variables are already known from session tracking; only user variables assigned since they
     * were last read back need a query on the old backend.
     */
    @Override
    public Future<Plan> capture(ClientConnection c) {
        Promise<Plan> plan = conn.channel().eventLoop().newPromise();
        if (conn.state.staleUserVariables().isEmpty()) {
            planWithCredential(plan);
            return plan;
        }
        Future<QueryResult> users = fetchUserVariables();
        users.addListener(f -> {
            if (!users.isSuccess() || users.getNow().isError()) {
                plan.tryFailure(new IllegalStateException("cannot read user variables"));
            } else {
                planWithCredential(plan);
            }
        });
        return plan;
    }

    @Override
    public Future<Plan> recover(ClientConnection c) {
        Promise<Plan> plan = conn.channel().eventLoop().newPromise();
        String why = conn.state.pinnedReason();
        if (why == null && !conn.state.staleUserVariables().isEmpty()) {
            why = "user variables changed by the last statement were not read back yet";
        }
        if (why == null) {
            why = credentialProblem;
        }
        if (why != null) {
            return plan.setFailure(new IllegalStateException(why));
        }
        planWithCredential(plan);
        return plan;
    }

    private void planWithCredential(Promise<Plan> plan) {
        if (credential != null) {
            plan.trySuccess(plan());
            return;
        }
        AuthExchange auth = conn.auth;
        if (auth.derived() != null) {
            credential = auth.derived();
            plan.trySuccess(plan());
            return;
        }
        if (!NativePassword.PLUGIN.equals(auth.plugin()) || auth.salt() == null || auth.response() == null) {
            credentialProblem = "the account authenticates with " + auth.plugin()
                    + ", whose credential the proxy cannot replay";
            plan.tryFailure(new IllegalStateException(credentialProblem));
            return;
        }
        if (auth.response().length == 0) {
            credential = new Credential.NativeHash(new byte[0]); // an account without password
            plan.trySuccess(plan());
            return;
        }
        conn.context.accounts().lookup(conn.channel().eventLoop(), auth.user()).addListener(f -> {
            if (!f.isSuccess()) {
                // a lookup can fail for a passing reason (no healthy backend): not remembered as a problem
                plan.tryFailure(new IllegalStateException("cannot read the account's password hash: " + f.cause().getMessage()));
                return;
            }
            @SuppressWarnings("unchecked")
            List<byte[]> hashes = (List<byte[]>) f.getNow();
            for (byte[] stored : hashes) {
                byte[] hash1 = NativePassword.recoverHash1(auth.response(), auth.salt(), stored);
                if (hash1 != null) {
                    credential = new Credential.NativeHash(hash1);
                    credentialProblem = null;
                    plan.trySuccess(plan());
                    return;
                }
            }
            credentialProblem = "no stored mysql_native_password hash of '" + auth.user() + "' matches the login";
            plan.tryFailure(new IllegalStateException(credentialProblem));
        });
    }

    private Plan plan() {
        return new Plan(credential, conn.state.database(), this::restore, true);
    }

    /**
     * Database comes with the login; then one SET for tracking, variables and user variables (assigned
     * left to right; every literal in it parses alike under any sql_mode), then SQL prepared statements.
     */
    private List<Future<QueryResult>> restore(io.tiproxy.proxy.backend.ProxyCommandChannel ch) {
        List<Future<QueryResult>> steps = new ArrayList<>();
        TrackedState state = conn.state;
        steps.add(ch.query(restoreSetSql(state)));
        for (Map.Entry<String, String> e : state.sqlPreparedStatements().entrySet()) {
            String hex = UserVariable.hex(e.getValue().getBytes(StandardCharsets.UTF_8));
            steps.add(ch.query("SET " + STMT_VAR + " = _utf8mb4 X'" + hex + "'"));
            steps.add(ch.query("PREPARE `" + e.getKey().replace("`", "``") + "` FROM " + STMT_VAR));
        }
        if (!state.sqlPreparedStatements().isEmpty()) {
            steps.add(ch.query("SET " + STMT_VAR + " = NULL"));
        }
        return steps;
    }

    /** {@link #TRACKING_SQL}, the session variables and the user variables as one SET statement. */
    static String restoreSetSql(TrackedState state) {
        StringBuilder sql = new StringBuilder(TRACKING_SQL);
        String vars = state.systemVariablesRestoreSql();
        if (vars != null) {
            sql.append(", ").append(vars, "SET ".length(), vars.length());
        }
        for (UserVariable v : state.userVariables().values()) {
            sql.append(", ").append(v.assignment());
        }
        return sql.toString();
    }

    /**
     * The client narrowed what the backend reports ({@code session_track_system_variables}): turn tracking
     * back on and read the variables the same statement assigned, which tracking may not have reported.
     */
    void resyncTracking(java.util.List<String> assignedInSameStatement) {
        conn.enableSessionTracking(true);
        for (String name : assignedInSameStatement) {
            if (name.startsWith("session_track_")) {
                continue;
            }
            Promise<QueryResult> p = InternalCommands.query(conn, "SELECT @@SESSION.`" + name.replace("`", "``") + "`");
            p.addListener(f -> {
                if (f.isSuccess() && !p.getNow().isError() && p.getNow().rows().size() == 1) {
                    conn.state.onSystemVariable(name, p.getNow().text(0, 0));
                }
            });
        }
    }

    /** Reads back the user variables assigned since they were last read (pipelined). */
    Future<QueryResult> fetchUserVariables() {
        List<String> names = new ArrayList<>(conn.state.staleUserVariables());
        StringBuilder sql = new StringBuilder("SELECT ");
        for (int i = 0; i < names.size(); i++) {
            String v = "@`" + names.get(i).replace("`", "``") + "`";
            sql.append(i == 0 ? "" : ", ").append(v).append(", HEX(").append(v).append("), CHARSET(").append(v)
                    .append("), COLLATION(").append(v).append(")");
        }
        Promise<QueryResult> p = InternalCommands.query(conn, sql.toString());
        p.addListener(f -> {
            if (f.isSuccess() && !p.getNow().isError()) {
                conn.state.updateUserVariables(UserVariables.parse(names, p.getNow()));
            }
        });
        return p;
    }
}
