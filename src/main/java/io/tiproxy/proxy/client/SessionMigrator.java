package io.tiproxy.proxy.client;

import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.netty.util.concurrent.ScheduledFuture;
import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.backend.BackendAuthenticator;
import io.tiproxy.proxy.backend.BackendConnection;
import io.tiproxy.proxy.backend.CommandTracker;
import io.tiproxy.proxy.backend.ProxyCommandChannel;
import io.tiproxy.proxy.backend.QueryResult;
import io.tiproxy.proxy.net.ProxyHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Moves one session to another backend, on the session's event loop; a {@link MigrationStrategy}
 * says what state moves and how (tracked state for MySQL/MariaDB, session states for TiDB). While it
 * works, client packets wait in order; a failure keeps the old backend and is retried with back-off;
 * the client never notices.
 *
 * <p>Phases (every other transition is a bug):
 * <pre>
 *   IDLE -> PENDING (requested) -> CAPTURING (safe point: read stale state from the old backend)
 *        -> CONNECTING (log in on the new backend) -> RESTORING (replay state) -> IDLE (swapped)
 *   CAPTURING | CONNECTING | RESTORING -> BACKOFF (failed; old backend kept) -> PENDING (retry)
 *   PENDING | BACKOFF -> IDLE (request dropped)
 * </pre>
 * When the backend dies, an idle session is rebuilt from what the strategy holds (CAPTURING then
 * does no I/O on the dead backend).
 */
final class SessionMigrator {
    private static final Logger log = LoggerFactory.getLogger(SessionMigrator.class);

    private static final int MAX_ATTEMPTS = 5;
    private static final long MIGRATION_TIMEOUT_MS = 10_000;

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
    /** The last reason this session could not move that was logged (logged once, not at every request). */
    private String loggedProblem;
    private final MigrationStrategy strategy;
    /** The router was told this session waits for a safe point (and not yet that it started). */
    private boolean waitingReported;
    /** Client statements re-prepared on a new backend whose parameter types the new backend lacks. */
    private final Set<Long> typesNeeded = new HashSet<>();

    SessionMigrator(ClientConnection conn, MigrationStrategy strategy) {
        this.conn = conn;
        this.strategy = strategy;
    }

    /**
     * Whether client packets must wait: while the session moves, and while a session whose backend died
     * waits to retry its rebuild (forwarded then, a statement would go to the dead connection and the
     * client would wait for its answer forever).
     */
    boolean isMoving() {
        return isAttempting() || (phase == Phase.BACKOFF && backendDead);
    }

    private boolean isAttempting() {
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
        return strategy.credentialProblem();
    }

    void forgetCredential() {
        strategy.forgetCredential();
    }

    // ---- requests ----------------------------------------------------------------------------

    void request(String newTarget, String why) {
        if (isMoving()) {
            return;
        }
        String problem = strategy.credentialProblem();
        if (problem != null) {
            // a session whose login cannot be replayed stays; the API shows why, the log says it once
            if (!problem.equals(loggedProblem)) {
                loggedProblem = problem;
                log.info("{}: asked to move ({}) but stays: {}", conn, why, problem);
            }
            conn.context.selector().migrationEnded(conn.connectionId(), false);
            return;
        }
        if (phase == Phase.IDLE) {
            log.debug("{}: asked to move ({}){}", conn, why, newTarget == null ? "" : " to " + newTarget);
        }
        target = newTarget;
        reason = why;
        if (phase == Phase.IDLE) {
            attempts = 0;
            phase = Phase.PENDING;
        }
        onIdleCheck();
    }

    /**
     * Called after each response: starts a pending migration once the session is at a safe point, and
     * tells the router while it waits for one (so its slot of the cap goes to another session meanwhile).
     */
    void onIdleCheck() {
        if (phase != Phase.PENDING || conn.isClosed()) {
            return;
        }
        if (conn.tracker.isSafeToMigrate() && conn.state.pinnedReason() == null) {
            reportWaiting(false);
            start(false);
        } else {
            reportWaiting(true);
        }
    }

    private void reportWaiting(boolean waiting) {
        if (waitingReported != waiting) {
            waitingReported = waiting;
            conn.context.selector().migrationWaiting(conn.connectionId(), waiting);
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
        long thisAttempt = startedNanos;
        // a hung backend never answers: give up on this attempt rather than hold the client forever
        conn.channel().eventLoop().schedule(() -> {
            if (isAttempting() && startedNanos == thisAttempt) {
                fail("timed out while " + phase.name().toLowerCase());
            }
        }, MIGRATION_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        log.debug("{}: migration ({}) starts, attempt {}", conn, afterCrash ? "backend lost" : reason, attempts);
        if (!afterCrash && !strategy.unsuitableTargets().isEmpty()) {
            String noTarget = noTargetReason(chooseTarget());
            if (noTarget != null) {
                fail(noTarget); // known before any work on the backend: nothing is captured
                return;
            }
        }
        Future<MigrationStrategy.Plan> plan = afterCrash ? strategy.recover(conn) : strategy.capture(conn);
        plan.addListener(f -> {
            if (phase != Phase.CAPTURING) {
                return;
            }
            if (f.isSuccess()) {
                connect(plan.getNow());
            } else if (f.cause() instanceof MigrationStrategy.NotNowException) {
                notNow(f.cause().getMessage());
            } else {
                fail(f.cause().getMessage());
            }
        });
    }

    /** The backend says "not now": back to waiting for the next safe point, without counting a failure. */
    private void notNow(String why) {
        log.debug("{}: migration postponed: {}", conn, why);
        attempts--;
        reportWaiting(true);
        phase = Phase.BACKOFF;
        retryTimer = conn.channel().eventLoop().schedule(() -> {
            if (phase == Phase.BACKOFF) {
                phase = Phase.PENDING;
                onIdleCheck();
            }
        }, 200, TimeUnit.MILLISECONDS);
        conn.resumeClient();
    }

    /** The client narrowed session tracking: turn it back on and read what that statement assigned. */
    void resyncTracking(List<String> assignedInSameStatement) {
        if (strategy instanceof TrackedStateStrategy tracked) {
            tracked.resyncTracking(assignedInSameStatement);
        }
    }

    /** Reads back, right behind the client's statement, the user variables it assigned. */
    void refreshUserVariables() {
        if (strategy instanceof TrackedStateStrategy tracked) {
            tracked.fetchUserVariables();
        }
    }

    /**
     * Where the session goes: the requested target, or else the best other backend; never one the
     * strategy calls unsuitable. Null when there is none ({@link #noTargetReason} says why).
     */
    private String chooseTarget() {
        String current = conn.backend.address();
        Map<String, String> unsuitable = strategy.unsuitableTargets();
        if (target != null && !target.equals(current)) {
            return unsuitable.containsKey(target) ? null : target;
        }
        Set<String> exclude = new HashSet<>(unsuitable.keySet());
        exclude.add(current);
        return conn.context.selector().select(exclude);
    }

    private String noTargetReason(String chosen) {
        if (chosen != null) {
            return null;
        }
        Map<String, String> unsuitable = strategy.unsuitableTargets();
        if (target != null && unsuitable.containsKey(target)) {
            return "the target cannot take it: " + unsuitable.get(target);
        }
        return unsuitable.isEmpty() ? "no other backend is available"
                : "no other backend can take it (" + String.join("; ", unsuitable.values()) + ")";
    }

    private void connect(MigrationStrategy.Plan plan) {
        String to = chooseTarget();
        if (to == null) {
            fail(noTargetReason(null));
            return;
        }
        phase = Phase.CONNECTING;
        final String destination = to;
        log.debug("{}: state captured in {} ms, logging in on {}", conn,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos), destination);
        var settings = conn.context.settings();
        // the new backend must see the same client as the first one did (host grants, USER())
        var request = new BackendAuthenticator.LoginRequest(conn.auth.user(), plan.database(), conn.charset,
                conn.backendCaps, conn.connectAttrs, plan.credential(),
                settings.sendProxyProtocol() ? ProxyHeader.of(conn.channel()) : null);
        BackendAuthenticator.login(conn.channel().eventLoop(), conn.context.transport(), destination,
                BackendAddress.parse(destination), settings.backendConnectTimeout(), settings.backendTls(), request)
                .addListener(f -> {
                    if (phase != Phase.CONNECTING) {
                        if (f.isSuccess()) {
                            ((BackendAuthenticator.Authenticated) f.getNow()).connection().quit();
                        }
                        return;
                    }
                    if (f.isSuccess()) {
                        restore((BackendAuthenticator.Authenticated) f.getNow(), plan);
                    } else {
                        fail(f.cause().getMessage());
                    }
                });
    }

    private void restore(BackendAuthenticator.Authenticated auth, MigrationStrategy.Plan plan) {
        phase = Phase.RESTORING;
        log.debug("{}: logged in on {} after {} ms, restoring", conn, auth.connection().address(),
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startedNanos));
        restoring = new ProxyCommandChannel(auth.connection(), auth.deprecateEof());
        List<Future<QueryResult>> steps = new ArrayList<>(plan.restorer().restore(restoring));
        Map<Long, Future<QueryResult>> prepared = new LinkedHashMap<>();
        if (plan.reprepareStatements()) {
            for (CommandTracker.PreparedStatement st : conn.tracker.preparedStatements().values()) {
                Future<QueryResult> f = restoring.send(Command.COM_STMT_PREPARE, st.sql());
                prepared.put(st.id(), f);
                steps.add(f);
            }
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
            swap(auth.connection(), ids, plan.reprepareStatements());
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

    private void swap(BackendConnection fresh, Map<Long, Long> ids, boolean reprepared) {
        restoring.detach();
        restoring = null;
        BackendConnection old = conn.backend;
        String from = old.address();
        if (!backendDead) {
            conn.context.selector().sessionDetached(from);
        }
        old.setListener(ClosedBackend.INSTANCE);
        old.quit();
        if (reprepared) {
            conn.statementIds.clear();
            typesNeeded.clear();
        }
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
        conn.context.selector().migrationEnded(conn.connectionId(), true);
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
        conn.context.selector().migrationEnded(conn.connectionId(), false);
        if (backendDead) {
            if (attempts < 3 && strategy.credentialProblem() == null) {
                log.warn("{}: cannot restore the session after its backend was lost (attempt {}): {}", conn, attempts, why);
                phase = Phase.BACKOFF;
                retryTimer = conn.channel().eventLoop().schedule(() -> start(true), 200L * attempts, TimeUnit.MILLISECONDS);
                return;
            }
            log.warn("{}: backend lost and the session cannot be restored: {}", conn, why);
            phase = Phase.IDLE;
            conn.failLostSession(why);
            return;
        }
        log.warn("{}: migration ({}) failed, staying on {}: {}", conn, reason, from, why);
        if (attempts >= MAX_ATTEMPTS || strategy.credentialProblem() != null) {
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
        attempts = 0;
        target = null;
        start(true);
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
