package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Routes new sessions to healthy backends and moves sessions off backends that stop being healthy
 * (drained, unhealthy, removed). A sweep re-asks stragglers every second: a session that was inside a
 * transaction, or whose migration failed, moves as soon as it can.
 */
public final class BackendRouter implements BackendSelector, AutoCloseable {
    private final LeastSessionsSelector selector;
    private final Supplier<? extends Collection<? extends RedirectableConn>> sessions;
    private volatile Map<String, BackendInfo> backends = Map.of();
    private volatile List<String> candidates = List.of();
    private final ScheduledExecutorService sweeper;
    private final java.util.function.Supplier<java.time.Duration> drainTimeout;
    /** When each session was first asked to leave its backend (connection id -> nanoTime). */
    private final Map<Long, Long> askedSince = new java.util.concurrent.ConcurrentHashMap<>();
    /** A session moved for balance is left alone for a while: no ping-pong. */
    private static final long MOVE_COOLDOWN_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
    private final Map<Long, Long> lastMoved = new java.util.HashMap<>();
    private final Rebalancer rebalancer = Rebalancer.defaults();
    private final java.util.concurrent.atomic.AtomicLong rebalanceMoves = new java.util.concurrent.atomic.AtomicLong();

    /**
     * @param drainTimeout how long a session may stay on a backend that left HEALTHY before it is closed
     *                     with an error (it could not reach a safe point or cannot be moved)
     */
    public BackendRouter(Supplier<? extends Collection<? extends RedirectableConn>> sessions,
                         ScheduledExecutorService sweeper, Supplier<java.time.Duration> drainTimeout) {
        this.sessions = sessions;
        this.drainTimeout = drainTimeout;
        this.selector = new LeastSessionsSelector(() -> candidates);
        this.sweeper = sweeper;
        sweeper.scheduleWithFixedDelay(this::sweep, 1, 1, TimeUnit.SECONDS);
    }

    /** A new view of the backends (from the observer); sessions on backends that left HEALTHY are moved. */
    public void update(Map<String, BackendInfo> snapshot) {
        backends = Map.copyOf(snapshot);
        candidates = snapshot.values().stream().filter(b -> b.state().acceptsNewSessions())
                .map(BackendInfo::address).sorted().toList();
        sweep();
    }

    /** Backends that take new sessions now. */
    public List<String> healthyBackends() {
        return candidates;
    }

    public Map<String, BackendInfo> backends() {
        return backends;
    }

    /**
     * Asks every session not on a healthy backend to move; closes, with an error, those that are still
     * there after the drain timeout.
     */
    public synchronized void sweep() {
        Map<String, BackendInfo> view = backends;
        long now = System.nanoTime();
        long timeout = drainTimeout.get().toNanos();
        java.util.Set<Long> seen = new java.util.HashSet<>();
        for (RedirectableConn c : sessions.get()) {
            String b = c.backendAddress();
            if (b == null) {
                continue;
            }
            BackendInfo info = view.get(b);
            BackendState state = info == null ? BackendState.REMOVED : info.state();
            if (state.acceptsNewSessions()) {
                continue;
            }
            seen.add(c.connectionId());
            long since = askedSince.computeIfAbsent(c.connectionId(), id -> now);
            if (now - since > timeout && state != BackendState.UNHEALTHY) {
                c.closeUnmovable(state.name().toLowerCase());
                askedSince.remove(c.connectionId());
            } else if (!candidates.isEmpty()) {
                c.redirect(null, state.name().toLowerCase());
            }
        }
        askedSince.keySet().retainAll(seen);
        rebalance(now);
    }

    /** Evens out session counts by moving sessions between healthy backends, at a bounded rate. */
    private void rebalance(long now) {
        List<Rebalancer.Candidate> all = new java.util.ArrayList<>();
        List<Rebalancer.Candidate> movable = new java.util.ArrayList<>();
        Map<Long, RedirectableConn> byId = new java.util.HashMap<>();
        java.util.Set<String> healthy = new java.util.HashSet<>(candidates);
        for (RedirectableConn c : sessions.get()) {
            String b = c.backendAddress();
            if (b == null || !healthy.contains(b)) {
                continue;
            }
            Rebalancer.Candidate cand = new Rebalancer.Candidate(c.connectionId(), b);
            all.add(cand);
            Long last = lastMoved.get(c.connectionId());
            if (last == null || now - last > MOVE_COOLDOWN_NANOS) {
                movable.add(cand);
                byId.put(c.connectionId(), c);
            }
        }
        lastMoved.keySet().retainAll(allIds(all));
        for (Rebalancer.Move m : rebalancer.plan(candidates, all, movable)) {
            lastMoved.put(m.id(), now);
            byId.get(m.id()).redirect(m.to(), "rebalance");
            rebalanceMoves.incrementAndGet();
        }
    }

    private static java.util.Set<Long> allIds(List<Rebalancer.Candidate> all) {
        java.util.Set<Long> ids = new java.util.HashSet<>();
        all.forEach(c -> ids.add(c.id()));
        return ids;
    }

    /** Sessions asked to move for balance since start. */
    public long rebalanceMoves() {
        return rebalanceMoves.get();
    }

    /** Asks every session to move once (operators, tests); returns how many were asked. */
    public int redirectAll(String reason) {
        int n = 0;
        for (RedirectableConn c : sessions.get()) {
            if (c.backendAddress() != null) {
                c.redirect(null, reason);
                n++;
            }
        }
        return n;
    }

    @Override
    public String unavailableReason() {
        Map<String, BackendInfo> view = backends;
        if (view.isEmpty()) {
            return "no backend is configured or discovered";
        }
        StringBuilder b = new StringBuilder("no healthy backend (");
        String sep = "";
        for (BackendInfo info : view.values()) {
            b.append(sep).append(info.address()).append(" is ").append(info.state().name().toLowerCase());
            if (!info.reason().isEmpty()) {
                b.append(": ").append(info.reason());
            }
            sep = "; ";
        }
        return b.append(')').toString();
    }

    public int sessionCount(String backend) {
        return selector.sessionCount(backend);
    }

    @Override
    public String select(Set<String> exclude) {
        return selector.select(exclude);
    }

    @Override
    public void sessionAttached(String backend) {
        selector.sessionAttached(backend);
    }

    @Override
    public void sessionDetached(String backend) {
        selector.sessionDetached(backend);
    }

    @Override
    public void close() {
        sweeper.shutdownNow();
    }
}
