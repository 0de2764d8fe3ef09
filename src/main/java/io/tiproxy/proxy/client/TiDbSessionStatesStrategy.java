package io.tiproxy.proxy.client;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tiproxy.proxy.backend.Credential;
import io.tiproxy.proxy.backend.QueryResult;

import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * TiDB: the backend holds the session's state and hands it over itself (TIDB-FACTS "Migration exchange").
 * {@code SHOW SESSION_STATES} on the old backend gives the states and a signed session token; the new
 * backend takes the token as a {@code tidb_session_token} login (database = {@code current-db}) and the
 * states with {@code SET SESSION_STATES '<json>'}. TiDB restores binary prepared statements with their
 * original ids, so nothing is re-prepared and the client's statement ids stay valid.
 *
 * <p>Error 8146 means "not now" (transaction, temporary tables, locks...) and is retried at the next
 * safe point, except when TiDB has no signing certificate, which (like a NULL token) never changes
 * while this backend runs: that is reported as {@link #credentialProblem()} and the engine stops trying.
 * The {@link TiDbReadiness} check learns the same from each TiDB's {@code /config} before any session
 * tries: sessions then neither leave nor go to a TiDB without the certificate.
 */
final class TiDbSessionStatesStrategy implements MigrationStrategy {
    /** TiDB's ErrCannotMigrateSession. */
    static final int ER_CANNOT_MIGRATE_SESSION = 8146;
    static final String NO_CERTIFICATE = "no certificate or key file to sign the data";

    private final ClientConnection conn;
    private String credentialProblem;

    TiDbSessionStatesStrategy(ClientConnection conn) {
        this.conn = conn;
    }

    @Override
    public Future<Plan> capture(ClientConnection c) {
        Promise<Plan> plan = conn.channel().eventLoop().newPromise();
        InternalCommands.query(conn, TiDbSessionStates.SHOW_SQL).addListener(f -> {
            if (!f.isSuccess()) {
                plan.tryFailure(new IllegalStateException("SHOW SESSION_STATES failed: " + f.cause().getMessage()));
                return;
            }
            QueryResult r = (QueryResult) f.getNow();
            if (r.isError()) {
                onError(plan, r);
                return;
            }
            TiDbSessionStates states;
            try {
                states = TiDbSessionStates.parse(r);
            } catch (IOException e) {
                plan.tryFailure(new IllegalStateException("cannot read TiDB's session states: " + e.getMessage()));
                return;
            }
            if (states.token() == null) {
                cannotMigrate(plan, "it returned no session token (security.session-token-signing-cert "
                        + "and -key are not set)");
                return;
            }
            plan.trySuccess(new Plan(new Credential.SessionToken(states.token()), states.currentDb(),
                    ch -> List.of(ch.query(states.restoreSql())), false));
        });
        return plan;
    }

    private void onError(Promise<Plan> plan, QueryResult r) {
        String message = r.errorMessage();
        if (r.errorCode() != ER_CANNOT_MIGRATE_SESSION) {
            plan.tryFailure(new IllegalStateException("SHOW SESSION_STATES failed: " + r.errorCode() + " " + message));
        } else if (message != null && message.contains(NO_CERTIFICATE)) {
            cannotMigrate(plan, message);
        } else {
            plan.tryFailure(new NotNowException(message));
        }
    }

    private void cannotMigrate(Promise<Plan> plan, String why) {
        credentialProblem = "this TiDB cannot migrate sessions: " + why;
        plan.tryFailure(new IllegalStateException(credentialProblem));
    }

    @Override
    public Future<Plan> recover(ClientConnection c) {
        return conn.channel().eventLoop().newFailedFuture(
                new IllegalStateException("TiDB session states cannot be read from a dead backend"));
    }

    /**
     * A NULL token or the no-certificate error seen on this backend, else what the readiness check
     * ({@code GET /config}) knows of it: either way no token can be had, so the session stays.
     */
    @Override
    public String credentialProblem() {
        if (credentialProblem != null) {
            return credentialProblem;
        }
        String backend = conn.backendAddress();
        return backend == null ? null : conn.context.tidbReadiness().whyNotReady(backend);
    }

    /** TiDBs without a signing certificate would refuse the token: never a target. */
    @Override
    public Map<String, String> unsuitableTargets() {
        return conn.context.tidbReadiness().notReady();
    }

    @Override
    public void forgetCredential() {
        // nothing held: every capture asks TiDB for a fresh token; a certificate problem stays
    }
}
