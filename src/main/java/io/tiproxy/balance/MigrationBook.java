package io.tiproxy.balance;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The router's record of the migrations it asked for, kept exact by comparing with where sessions
 * really are at the start of every round rather than by counting callbacks, so a session that closes
 * while it moves (pingcap/tiproxy#779, #1172) simply drops out and nothing leaks: no pending count, no
 * slot of the concurrency cap, no score. A session that reports its attempt failed only makes the
 * failure known sooner than the timeout.
 *
 * <ul>
 *   <li>In flight: asked, still on its source. It lands (now elsewhere: success), closes (gone: dropped),
 *       reports a failed attempt, or does not move within {@link #TIMEOUT_NANOS} (failure: its migration
 *       failed, or it never reached a safe point).</li>
 *   <li>A failure costs that session a back-off, doubling from {@link #BACKOFF_BASE_NANOS} up to
 *       {@link #BACKOFF_MAX_NANOS}; other sessions move meanwhile.</li>
 *   <li>A session that moved is left alone by balance (not by status) for {@link #COOLDOWN_NANOS}: no ping-pong.</li>
 * </ul>
 * Not thread-safe: owned by the rebalancing thread.
 */
final class MigrationBook {
    static final long TIMEOUT_NANOS = 15_000_000_000L;
    static final long BACKOFF_BASE_NANOS = 5_000_000_000L;
    static final long BACKOFF_MAX_NANOS = 80_000_000_000L;
    static final long COOLDOWN_NANOS = 30_000_000_000L;

    /** A migration asked for. */
    record InFlight(long id, String from, String to, String reason, long askedNanos) {}

    /** Which migrations are in flight, by route and reason (tiproxy_balance_pending_migrate). */
    record Route(String from, String to, String reason) {}

    /** What became of the migrations in flight during one reconciliation. */
    record Outcomes(int landed, int failed, int closed) {}

    private record Backoff(int failures, long untilNanos) {}

    private final Map<Long, InFlight> inFlight = new HashMap<>();
    private final Map<Long, Backoff> backoffs = new HashMap<>();
    private final Map<Long, Long> cooldownUntil = new HashMap<>();

    /**
     * Settles the migrations in flight against {@code where} (session id -> its backend now);
     * {@code reportedFailed}: sessions that said their attempt failed since the last round.
     */
    Outcomes reconcile(Map<Long, String> where, Set<Long> reportedFailed, long now) {
        int landed = 0;
        int failed = 0;
        int closed = 0;
        for (Iterator<InFlight> it = inFlight.values().iterator(); it.hasNext(); ) {
            InFlight m = it.next();
            String at = where.get(m.id());
            if (at == null) {
                closed++;
                it.remove();
            } else if (!at.equals(m.from())) {
                landed++;
                it.remove();
                backoffs.remove(m.id());
                cooldownUntil.put(m.id(), now + COOLDOWN_NANOS);
            } else if (reportedFailed.contains(m.id()) || now - m.askedNanos() >= TIMEOUT_NANOS) {
                failed++;
                it.remove();
                Backoff previous = backoffs.get(m.id());
                int failures = previous == null ? 1 : previous.failures() + 1;
                long delay = Math.min(BACKOFF_MAX_NANOS, BACKOFF_BASE_NANOS << Math.min(failures - 1, 20));
                backoffs.put(m.id(), new Backoff(failures, now + delay));
            }
        }
        backoffs.keySet().removeIf(id -> !where.containsKey(id));
        cooldownUntil.entrySet().removeIf(e -> !where.containsKey(e.getKey()) || e.getValue() <= now);
        return new Outcomes(landed, failed, closed);
    }

    /** Whether the session may be asked to move now (not in flight, not backing off). */
    boolean eligible(long id, long now) {
        if (inFlight.containsKey(id)) {
            return false;
        }
        Backoff b = backoffs.get(id);
        return b == null || b.untilNanos() <= now;
    }

    /** Whether the session moved recently, so balance leaves it alone. */
    boolean coolingDown(long id, long now) {
        Long until = cooldownUntil.get(id);
        return until != null && until > now;
    }

    void asked(long id, String from, String to, String reason, long now) {
        inFlight.put(id, new InFlight(id, from, to, reason, now));
    }

    /** Forgets a migration in flight without judging it (its target stopped taking sessions: ask again). */
    void withdraw(long id) {
        inFlight.remove(id);
    }

    int inFlightCount() {
        return inFlight.size();
    }

    /** Migrations in flight whose session is not waiting for a safe point: those the concurrency cap counts. */
    int movingCount(Set<Long> waiting) {
        if (waiting.isEmpty()) {
            return inFlight.size();
        }
        int n = 0;
        for (Long id : inFlight.keySet()) {
            if (!waiting.contains(id)) {
                n++;
            }
        }
        return n;
    }

    Iterable<InFlight> inFlight() {
        return inFlight.values();
    }

    /** Migrations in flight by route and reason, sorted. */
    Map<Route, Integer> pending() {
        Map<Route, Integer> out = new TreeMap<>((a, b) -> (a.from() + '\0' + a.to() + '\0' + a.reason())
                .compareTo(b.from() + '\0' + b.to() + '\0' + b.reason()));
        for (InFlight m : inFlight.values()) {
            out.merge(new Route(m.from(), m.to(), m.reason()), 1, Integer::sum);
        }
        return out;
    }
}
