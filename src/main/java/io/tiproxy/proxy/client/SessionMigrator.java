package io.tiproxy.proxy.client;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.backend.BackendAuthenticator;
import io.tiproxy.proxy.backend.BackendConnection;
import io.tiproxy.proxy.backend.CommandTracker;
import io.tiproxy.proxy.backend.Credential;
import io.tiproxy.proxy.backend.ProxyCommandChannel;
import io.tiproxy.proxy.backend.QueryResult;
import io.tiproxy.session.TrackedState;
import io.tiproxy.session.UserVariable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Moves one session to another backend, on the session's event loop, with the state the proxy tracked
 * (MySQL/MariaDB strategy). While it works, client packets wait in order; a failure keeps the old
 * backend and is retried with back-off; the client never notices.
 *
 * <p>Phases (every other transition is a bug):
 * <pre>
 *   IDLE -> PENDING (requested) -> CAPTURING (safe point: read stale state from the old backend)
 *        -> CONNECTING (log in on the new backend) -> RESTORING (replay state) -> IDLE (swapped)
 *   CAPTURING | CONNECTING | RESTORING -> BACKOFF (failed; old backend kept) -> PENDING (retry)
 *   PENDING | BACKOFF -> IDLE (request dropped)
 * </pre>
 * When the backend dies, an idle session goes straight to CONNECTING (its state is already held).
 */
final class SessionMigrator {
    private static final Logger log = LoggerFactory.getLogger(SessionMigrator.class);

    /** Every session variable that differs from its global value: the exact set to restore. */
    static final String CHANGED_VARIABLES_SQL = "SELECT s.VARIABLE_NAME, s.VARIABLE_VALUE "
            + "FROM information_schema.SESSION_VARIABLES s JOIN information_schema.GLOBAL_VARIABLES g "
            + "USING (VARIABLE_NAME) WHERE NOT (s.VARIABLE_VALUE <=> g.VARIABLE_VALUE)";
    static final String TRACKING_SQL = "SET SESSION session_track_system_variables='*', "
            + "SESSION session_track_schema=ON, SESSION session_track_state_change=ON, "
            + "SESSION session_track_transaction_info='CHARACTERISTICS'";
    private static final int MAX_ATTEMPTS = 5;
    private static final String STMT_VAR = "@`__tiproxy_stmt`";

    enum Phase { IDLE, PENDING, CAPTURING, CONNECTING, RESTORING, BACKOFF }

    private final ClientConnection conn;
    private Phase phase = Phase.IDLE;
    private String target;
    private String reason;
    private int attempts;
    private long startedNanos;
    private boolean backendDead;
    private ScheduledFuture<?> retryTimer;
    private ProxyCommandChannel restoring;
    private Credential.NativeHash credential;
    private String credentialProblem;
    /** Client statements re-prepared on a new backend whose parameter types the new backend lacks. */
    private final Set<Long> typesNeeded = new HashSet<>();

    SessionMigrator(ClientConnection conn) {
        this.conn = conn;
    }

    boolean isMoving() {
        return phase == Phase.CAPTURING || phase == Phase.CONNECTING || phase == Phase.RESTORING;
    }

    Phase phase() {
        return phase;
    }

    Set<Long> typesNeeded() {
        return typesNeeded;
    }

    /** The reason this session's login cannot be replayed, or null if it can (or is not known yet). */
    String credentialProblem() {
        return credentialProblem;
    }

    void forgetCredential() {
        credential = null;
        credentialProblem = null;
    }

    // ---- requests ----------------------------------------------------------------------------

    void request(String newTarget, String why) {
        if (isMoving() || credentialProblem != null) {
            return; // a session whose login cannot be replayed stays; the API shows why
        }
        target = newTarget;
        reason = why;
        if (phase == Phase.IDLE) {
            attempts = 0;
            phase = Phase.PENDING;
        }
        onIdleCheck();
    }

    /** Called after each response: starts a pending migration once the session is at a safe point. */
    void onIdleCheck() {
        if (phase != Phase.PENDING || conn.isClosed()) {
            return;
        }
        if (conn.tracker.isSafeToMigrate() && conn.state.pinnedReason() == null) {
            start(false);
        }
    }

    void abort() {
        if (retryTimer != null) {
            retryTimer.cancel(false);
        }
        if (restoring != null) {
            restoring.close();
            restoring = null;
        }
        phase = Phase.IDLE;
    }

    // ---- the steps ---------------------------------------------------------------------------

    private void start(boolean afterCrash) {
        startedNanos = System.nanoTime();
        backendDead = afterCrash;
        phase = Phase.CAPTURING;
        attempts++;
        if (afterCrash) {
            obtainCredential();
            return;
        }
        // read what the old backend knows exactly: changed variables, and user variables not read back yet
        Future<QueryResult> vars = readChangedVariables();
        Future<QueryResult> users = conn.state.staleUserVariables().isEmpty() ? null : fetchUserVariables();
        Future<QueryResult> last = users != null ? users : vars;
        last.addListener(f -> {
            if (phase != Phase.CAPTURING) {
                return;
            }
            if (!vars.isSuccess() || vars.getNow().isError()) {
                fail("cannot read session variables: " + (vars.isSuccess() ? vars.getNow().errorMessage() : vars.cause()));
            } else if (users != null && (!users.isSuccess() || users.getNow().isError())) {
                fail("cannot read user variables");
            } else {
                obtainCredential();
            }
        });
    }

    /** Re-reads the changed session variables (pipelined) and keeps them as the session's state. */
    Future<QueryResult> readChangedVariables() {
        Promise<QueryResult> p = InternalCommands.query(conn, CHANGED_VARIABLES_SQL);
        p.addListener(f -> {
            if (f.isSuccess() && !p.getNow().isError()) {
                Map<String, String> snapshot = new LinkedHashMap<>();
                QueryResult r = p.getNow();
                for (int i = 0; i < r.rows().size(); i++) {
                    snapshot.put(r.text(i, 0), r.text(i, 1));
                }
                conn.state.replaceSystemVariables(snapshot);
            }
        });
        return p;
    }

    /** The client narrowed session tracking: turn it back on and re-read the variables (pipelined). */
    void resyncTracking() {
        conn.enableSessionTracking();
        readChangedVariables();
    }

    private void obtainCredential() {
        if (credential != null) {
            connect();
            return;
        }
        AuthExchange auth = conn.auth;
        if (!NativePassword.PLUGIN.equals(auth.plugin()) || auth.salt() == null || auth.response() == null) {
            credentialProblem = "the account authenticates with " + auth.plugin()
                    + ", whose credential the proxy cannot replay";
            fail(credentialProblem);
            return;
        }
        if (auth.response().length == 0) {
            credential = new Credential.NativeHash(new byte[0]);
            connect();
            return;
        }
        conn.context.accounts().lookup(conn.channel().eventLoop(), auth.user()).addListener(f -> {
            if (phase != Phase.CAPTURING) {
                return;
            }
            if (!f.isSuccess()) {
                credentialProblem = "cannot read the account's password hash: " + f.cause().getMessage();
                fail(credentialProblem);
                return;
            }
            @SuppressWarnings("unchecked")
            List<byte[]> hashes = (List<byte[]>) f.getNow();
            for (byte[] stored : hashes) {
                byte[] hash1 = NativePassword.recoverHash1(auth.response(), auth.salt(), stored);
                if (hash1 != null) {
                    credential = new Credential.NativeHash(hash1);
                    credentialProblem = null;
                    connect();
                    return;
                }
            }
            credentialProblem = "no stored mysql_native_password hash of '" + auth.user() + "' matches the login";
            fail(credentialProblem);
        });
    }

    private void connect() {
        String current = conn.backend.address();
        String to = target;
        if (to == null || to.equals(current)) {
            to = conn.context.selector().select(Set.of(current));
        }
        if (to == null) {
            fail("no other backend is available");
            return;
        }
        phase = Phase.CONNECTING;
        final String destination = to;
        var settings = conn.context.settings();
        byte[] nativeHash = credential.hash1();
        Credential cred = nativeHash.length == 0 ? new Credential.NativeHash(new byte[0]) : credential;
        var request = new BackendAuthenticator.LoginRequest(conn.auth.user(), conn.state.database(), conn.charset,
                conn.backendCaps, conn.connectAttrs, cred);
        BackendAuthenticator.login(conn.channel().eventLoop(), conn.context.transport(), destination,
                BackendAddress.parse(destination), settings.backendConnectTimeout(), settings.backendTls(), request)
                .addListener(f -> {
                    if (phase != Phase.CONNECTING) {
                        if (f.isSuccess()) {
                            ((BackendAuthenticator.Authenticated) f.getNow()).connection().close();
                        }
                        return;
                    }
                    if (f.isSuccess()) {
                        restore((BackendAuthenticator.Authenticated) f.getNow());
                    } else {
                        fail(f.cause().getMessage());
                    }
                });
    }

    private void restore(BackendAuthenticator.Authenticated auth) {
        phase = Phase.RESTORING;
        restoring = new ProxyCommandChannel(auth.connection(), auth.deprecateEof());
        List<Future<QueryResult>> steps = new ArrayList<>();
        TrackedState state = conn.state;
        steps.add(restoring.query(TRACKING_SQL));
        String vars = state.systemVariablesRestoreSql();
        if (vars != null) {
            steps.add(restoring.query(vars));
        }
        if (!state.userVariables().isEmpty()) {
            StringBuilder sql = new StringBuilder("SET ");
            String sep = "";
            for (UserVariable v : state.userVariables().values()) {
                sql.append(sep).append(v.assignment());
                sep = ", ";
            }
            steps.add(restoring.query(sql.toString()));
        }
        for (Map.Entry<String, String> e : state.sqlPreparedStatements().entrySet()) {
            String hex = UserVariable.hex(e.getValue().getBytes(StandardCharsets.UTF_8));
            steps.add(restoring.query("SET " + STMT_VAR + " = _utf8mb4 X'" + hex + "'"));
            steps.add(restoring.query("PREPARE `" + e.getKey().replace("`", "``") + "` FROM " + STMT_VAR));
        }
        if (!state.sqlPreparedStatements().isEmpty()) {
            steps.add(restoring.query("SET " + STMT_VAR + " = NULL"));
        }
        Map<Long, Future<QueryResult>> prepared = new LinkedHashMap<>();
        for (CommandTracker.PreparedStatement st : conn.tracker.preparedStatements().values()) {
            Future<QueryResult> f = restoring.send(Command.COM_STMT_PREPARE, st.sql());
            prepared.put(st.id(), f);
            steps.add(f);
        }
        awaitAll(steps).addListener(done -> {
            if (phase != Phase.RESTORING) {
                return;
            }
            for (Future<QueryResult> f : steps) {
                if (!f.isSuccess()) {
                    fail("restore failed: " + f.cause().getMessage());
                    return;
                }
                if (f.getNow().isError()) {
                    fail("restore failed on " + auth.connection().address() + ": " + f.getNow().errorMessage());
                    return;
                }
            }
            Map<Long, Long> ids = new LinkedHashMap<>();
            prepared.forEach((clientId, f) -> ids.put(clientId, f.getNow().statementId()));
            swap(auth.connection(), ids);
        });
    }

    private Future<Void> awaitAll(List<Future<QueryResult>> steps) {
        Promise<Void> all = conn.channel().eventLoop().newPromise();
        int[] left = {steps.size()};
        if (steps.isEmpty()) {
            return all.setSuccess(null);
        }
        for (Future<QueryResult> f : steps) {
            f.addListener(x -> {
                if (--left[0] == 0) {
                    all.trySuccess(null);
                }
            });
        }
        return all;
    }

    private void swap(BackendConnection fresh, Map<Long, Long> ids) {
        restoring.detach();
        restoring = null;
        BackendConnection old = conn.backend;
        String from = old.address();
        if (!backendDead) {
            conn.context.selector().sessionDetached(from);
        }
        old.setListener(ClosedBackend.INSTANCE);
        old.close();
        conn.statementIds.clear();
        typesNeeded.clear();
        ids.forEach((clientId, backendId) -> {
            conn.statementIds.map(clientId, backendId);
            var st = conn.tracker.preparedStatements().get(clientId);
            if (st != null && st.paramCount() > 0) {
                typesNeeded.add(clientId);
            }
        });
        conn.attachBackend(fresh);
        phase = Phase.IDLE;
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
        log.info("{}: migrated from {} to {} ({}) in {} ms", conn, from, fresh.address(),
                backendDead ? "backend lost" : reason, ms);
        conn.context.events().migrated(from, fresh.address(), backendDead ? "backend-lost" : reason, true, ms);
        backendDead = false;
        target = null;
        conn.resumeClient();
    }

    private void fail(String why) {
        if (restoring != null) {
            restoring.close();
            restoring = null;
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos);
        String from = conn.backend == null ? "?" : conn.backend.address();
        conn.context.events().migrated(from, target == null ? "" : target, backendDead ? "backend-lost" : reason, false, ms);
        if (backendDead) {
            if (attempts < 3 && credentialProblem == null) {
                log.warn("{}: cannot restore the session after its backend was lost (attempt {}): {}", conn, attempts, why);
                phase = Phase.BACKOFF;
                retryTimer = conn.channel().eventLoop().schedule(() -> start(true), 200L * attempts, TimeUnit.MILLISECONDS);
                return;
            }
            log.warn("{}: backend lost and the session cannot be restored: {}", conn, why);
            phase = Phase.IDLE;
            conn.close(ErrorSource.BACKEND_NETWORK, null);
            return;
        }
        log.warn("{}: migration ({}) failed, staying on {}: {}", conn, reason, from, why);
        if (attempts >= MAX_ATTEMPTS || credentialProblem != null) {
            phase = Phase.IDLE;
        } else {
            phase = Phase.BACKOFF;
            long delay = Math.min(10_000, 500L << attempts);
            retryTimer = conn.channel().eventLoop().schedule(() -> {
                if (phase == Phase.BACKOFF) {
                    phase = Phase.PENDING;
                    onIdleCheck();
                }
            }, delay, TimeUnit.MILLISECONDS);
        }
        conn.resumeClient();
    }

    // ---- unplanned: the backend died -----------------------------------------------------------

    /**
     * The backend connection died. A client waiting for a response gets an error; then the session is
     * rebuilt on another backend from the state the proxy holds, unless that state cannot be rebuilt.
     */
    void onBackendLost(boolean clientWaiting, int lastServerSeq) {
        boolean inTransaction = conn.tracker.inTransaction();
        if (restoring != null) {
            restoring.close();
            restoring = null;
        }
        if (retryTimer != null) {
            retryTimer.cancel(false);
        }
        conn.context.selector().sessionDetached(conn.backend.address());
        if (clientWaiting) {
            conn.sendLostConnectionError(lastServerSeq + 1, inTransaction);
        } else if (inTransaction) {
            conn.deferLostTransactionError();
        }
        conn.tracker.abandonInFlight();
        String why = conn.state.pinnedReason();
        if (why == null && !conn.state.staleUserVariables().isEmpty()) {
            why = "user variables changed by the last statement were not read back yet";
        }
        if (why == null) {
            why = credentialProblem;
        }
        if (why != null) {
            log.warn("{}: backend lost and the session cannot be restored: {}", conn, why);
            phase = Phase.IDLE;
            conn.close(ErrorSource.BACKEND_NETWORK, null);
            return;
        }
        attempts = 0;
        target = null;
        start(true);
    }

    // ---- user variables --------------------------------------------------------------------------

    /** Reads back, right behind the client's statement, the user variables it assigned. */
    void refreshUserVariables() {
        fetchUserVariables();
    }

    private Future<QueryResult> fetchUserVariables() {
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

    /** A backend connection the session let go of: whatever it still says is ignored. */
    private static final class ClosedBackend implements BackendConnection.Listener {
        static final ClosedBackend INSTANCE = new ClosedBackend();

        @Override
        public void onBackendPacket(BackendConnection from, io.netty.buffer.ByteBuf packet) {
            packet.release();
        }

        @Override
        public void onBackendReadComplete(BackendConnection from) {
        }

        @Override
        public void onBackendWritabilityChanged(BackendConnection from) {
        }

        @Override
        public void onBackendClosed(BackendConnection from, Throwable cause) {
        }
    }
}
