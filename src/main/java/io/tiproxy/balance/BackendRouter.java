package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Routes new sessions and rebalances existing ones by the ordered factors of a {@link FactorBasedPolicy}
 * (status, location, load, session count). A round runs every {@value #ROUND_MILLIS} ms and whenever the
 * backends change ({@link RebalanceLoop}): sessions leave backends that stopped taking new ones, then
 * move for location, load and session count, each factor at its own rate, under a cap on migrations in
 * flight.
 *
 * <p>New sessions go to a settled backend that no factor would move sessions off (TiProxy's prefer-idle
 * routing), chosen by two random choices: of two such backends, the one with fewer sessions. Always
 * taking the single idlest piles a burst of connections onto it before the counts catch up; two choices
 * spread the burst and still favour the emptier backends.
 *
 * <p>Thread-safe: {@link #select} and the session counters are called on event loops, {@link #update}
 * on the observer's thread, rounds run on the router's own thread.
 */
public final class BackendRouter implements BackendSelector, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackendRouter.class);
    static final long ROUND_MILLIS = 200;
    /** The least time between a round and one brought forward by an ended migration. */
    static final long EARLY_ROUND_GAP_MILLIS = 20;

    /** Migrations asked for and not finished, by route and reason (tiproxy_balance_pending_migrate). */
    public record Pending(String from, String to, String reason, int count) {}

    private final Supplier<? extends Collection<? extends RedirectableConn>> sessions;
    private final ScheduledExecutorService executor;
    private final Supplier<Duration> drainTimeout;
    private final LongSupplier clock;
    private final RebalanceLoop loop = new RebalanceLoop();
    private final LoadSamples loads = new LoadSamples();
    private final Map<String, AtomicInteger> counts = new ConcurrentHashMap<>();
    private final AtomicLong movesAsked = new AtomicLong();
    private final AtomicLong balanceMovesAsked = new AtomicLong();
    private volatile BalanceSettings settings;
    private volatile FactorBasedPolicy policy;
    private volatile long loadStaleNanos;
    private volatile Map<String, BackendInfo> backends = Map.of();
    private volatile List<String> candidates = List.of();
    private volatile Set<String> unsettled = Set.of();
    private volatile Map<String, Map<String, Integer>> scores = Map.of();
    private volatile List<Pending> pending = List.of();
    /** Sessions that reported a failed migration attempt, taken by the next round. */
    private final Queue<Long> reportedFailed = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean earlyRoundQueued = new AtomicBoolean();
    /** Sessions asked to move that wait for a safe point (they hold no slot of the cap). */
    private final Set<Long> waiting = ConcurrentHashMap.newKeySet();
    private volatile long lastRoundNanos;

    /**
     * @param sessions     every live session, read each round
     * @param executor     the router's own thread (rounds run there); shut down by {@link #close()}
     * @param drainTimeout how long a session asked to leave a draining or removed backend may stay before it
     *                     is closed with an error (it could not reach a safe point or cannot be moved)
     */
    public BackendRouter(Supplier<? extends Collection<? extends RedirectableConn>> sessions,
                         ScheduledExecutorService executor, Supplier<Duration> drainTimeout, BalanceSettings settings) {
        this(sessions, executor, drainTimeout, settings, System::nanoTime);
        executor.scheduleWithFixedDelay(this::roundSafely, ROUND_MILLIS, ROUND_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** Without a thread of its own: rounds run only when {@link #round()} is called (tests, with their clock). */
    BackendRouter(Supplier<? extends Collection<? extends RedirectableConn>> sessions, ScheduledExecutorService executor,
                  Supplier<Duration> drainTimeout, BalanceSettings settings, LongSupplier clock) {
        this.sessions = Objects.requireNonNull(sessions, "sessions");
        this.executor = executor;
        this.drainTimeout = Objects.requireNonNull(drainTimeout, "drainTimeout");
        this.clock = Objects.requireNonNull(clock, "clock");
        setSettings(settings);
    }

    /** New balance settings (a config reload): in force from the next round, and for routing at once. */
    public void setSettings(BalanceSettings next) {
        FactorBasedPolicy nextPolicy = FactorBasedPolicy.of(Objects.requireNonNull(next, "settings"));
        settings = next;
        policy = nextPolicy;
        loadStaleNanos = next.loadStaleAfter().toNanos();
    }

    public BalanceSettings settings() {
        return settings;
    }

    /** A new view of the backends (from the observer); a round follows at once. */
    public void update(Map<String, BackendInfo> snapshot) {
        backends = Map.copyOf(snapshot);
        candidates = snapshot.values().stream().filter(b -> b.state().acceptsNewSessions())
                .map(BackendInfo::address).sorted().toList();
        if (executor != null && !executor.isShutdown()) {
            executor.execute(this::roundSafely);
        }
    }

    /** A load sample of {@code backend}: statements running there besides the sampler's own. */
    public void reportLoad(String backend, double runningThreads) {
        loads.report(backend, runningThreads, clock.getAsLong());
    }

    private void roundSafely() {
        try {
            round();
        } catch (RuntimeException e) {
            log.error("balance round failed; the next one retries", e);
        }
    }

    /**
     * A migration ended: a round comes soon (at most one queued, {@value #EARLY_ROUND_GAP_MILLIS} ms after the
     * last), so the slot it held is used again at once and a failure backs off without waiting for the timeout.
     */
    @Override
    public void migrationEnded(long connectionId, boolean moved) {
        waiting.remove(connectionId);
        if (!moved) {
            reportedFailed.add(connectionId);
        }
        roundSoon();
    }

    /** A session waiting for a safe point frees its slot at once; one that starts takes it again. */
    @Override
    public void migrationWaiting(long connectionId, boolean isWaiting) {
        if (isWaiting) {
            waiting.add(connectionId);
            roundSoon();
        } else {
            waiting.remove(connectionId);
        }
    }

    private void roundSoon() {
        if (executor != null && !executor.isShutdown() && earlyRoundQueued.compareAndSet(false, true)) {
            long sinceLast = TimeUnit.NANOSECONDS.toMillis(clock.getAsLong() - lastRoundNanos);
            long delay = Math.max(0, EARLY_ROUND_GAP_MILLIS - sinceLast);
            try {
                executor.schedule(() -> {
                    earlyRoundQueued.set(false);
                    roundSafely();
                }, delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                earlyRoundQueued.set(false); // shutting down
            }
        }
    }

    /** Runs one rebalancing round now. */
    synchronized void round() {
        Set<Long> failed = new HashSet<>();
        for (Long id; (id = reportedFailed.poll()) != null; ) {
            failed.add(id);
        }
        long now = clock.getAsLong();
        lastRoundNanos = now;
        RebalanceLoop.Result r = loop.round(now, backends, sessions.get(), failed, waiting, policy, settings, loads,
                drainTimeout.get());
        r.sessionsPerBackend().forEach((b, n) -> counts.computeIfAbsent(b, k -> new AtomicInteger()).set(n));
        counts.forEach((b, n) -> {
            if (!r.sessionsPerBackend().containsKey(b)) {
                n.set(0);
            }
        });
        unsettled = r.unsettled();
        scores = r.scores();
        pending = r.pending();
        movesAsked.addAndGet(r.movesAsked());
        balanceMovesAsked.addAndGet(r.balanceMovesAsked());
    }

    /**
     * Backends that take sessions but are on probation (they came back from an outage, or just dropped
     * their sessions), as of the last round: balance moves nothing to them, and new sessions go to them
     * only when no other backend can take them.
     */
    public Set<String> onProbation() {
        return unsettled;
    }

    /** Backends that take new sessions now. */
    public List<String> healthyBackends() {
        return candidates;
    }

    public Map<String, BackendInfo> backends() {
        return backends;
    }

    /** Each backend's score by each factor of the policy, as of the last round (tiproxy_balance_b_score). */
    public Map<String, Map<String, Integer>> factorScores() {
        return scores;
    }

    /**
     * The smoothed load of {@code backend} (statements running there besides the sampler's), or NaN
     * when no recent sample is known: then the load factor is neutral about it.
     */
    public double load(String backend) {
        return loads.current(backend, clock.getAsLong(), loadStaleNanos);
    }

    /** Migrations asked for and not finished yet, as of the last round. */
    public List<Pending> pendingMigrations() {
        return pending;
    }

    /** Sessions asked to move by any factor since start. */
    public long migrationsAsked() {
        return movesAsked.get();
    }

    /** Sessions asked to move for balance (location, load, session count; not status) since start. */
    public long rebalanceMoves() {
        return balanceMovesAsked.get();
    }

    /** Asks every session to move once (operators, tests), outside the policy; returns how many were asked. */
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
        AtomicInteger c = counts.get(backend);
        return c == null ? 0 : Math.max(0, c.get());
    }

    @Override
    public String select(Set<String> exclude) {
        long now = clock.getAsLong();
        long stale = loadStaleNanos;
        Set<String> probation = unsettled;
        List<BackendView> settled = new ArrayList<>();
        List<BackendView> all = new ArrayList<>();
        for (BackendInfo info : backends.values()) {
            if (!info.state().acceptsNewSessions() || exclude.contains(info.address())) {
                continue;
            }
            boolean isSettled = !probation.contains(info.address());
            BackendView v = new BackendView(info.address(), info.state(), sessionCount(info.address()), info.labels(),
                    loads.current(info.address(), now, stale), isSettled, 0);
            all.add(v);
            if (isSettled) {
                settled.add(v);
            }
        }
        if (all.isEmpty()) {
            return null;
        }
        List<BackendView> routable = policy.routable(settled.isEmpty() ? all : settled);
        if (routable.size() == 1) {
            return routable.get(0).address();
        }
        ThreadLocalRandom random = ThreadLocalRandom.current();
        int i = random.nextInt(routable.size());
        int j = random.nextInt(routable.size() - 1);
        if (j >= i) {
            j++;
        }
        BackendView a = routable.get(i);
        BackendView b = routable.get(j);
        return (b.sessions() < a.sessions() ? b : a).address();
    }

    @Override
    public void sessionAttached(String backend) {
        counts.computeIfAbsent(backend, k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void sessionDetached(String backend) {
        AtomicInteger c = counts.get(backend);
        if (c != null) {
            c.decrementAndGet();
        }
    }

    @Override
    public void close() {
        if (executor != null) {
            executor.shutdownNow();
        }
    }
}
