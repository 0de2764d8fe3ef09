package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One rebalancing round, on the router's thread with the router's clock: find where every session
 * really is, settle the migrations asked for earlier ({@link MigrationBook}), note backend health
 * ({@link HealthHistory}), close sessions that could not leave a draining or removed backend in time,
 * then plan ({@link Rebalancer}) and ask sessions to move. Everything it counts is recomputed from the
 * sessions each round, so a count that went wrong (a session closed while moving) is right again one
 * round later. Not thread-safe.
 */
final class RebalanceLoop {
    private static final Logger log = LoggerFactory.getLogger(RebalanceLoop.class);

    /** What a round leaves for routing, metrics and the API. */
    record Result(Map<String, Integer> sessionsPerBackend, Set<String> unsettled,
                  Map<String, Map<String, Integer>> scores, List<BackendRouter.Pending> pending,
                  int movesAsked, int balanceMovesAsked) {}

    private final MigrationBook book = new MigrationBook();
    private final HealthHistory history = new HealthHistory();
    private final Rebalancer rebalancer = new Rebalancer();
    /** When each session on a draining or removed backend started its countdown to being closed. */
    private final Map<Long, Long> leavingSince = new HashMap<>();
    /** Sessions told to close, until they are gone. */
    private final Set<Long> closing = new HashSet<>();
    /** Where each session was in the previous round. */
    private Map<Long, String> lastWhere = Map.of();

    /**
     * @param reportedFailed sessions that reported a failed migration attempt since the last round
     * @param waiting        sessions asked to move that wait for a safe point now (they hold no slot)
     */
    Result round(long now, Map<String, BackendInfo> snapshot, Collection<? extends RedirectableConn> sessions,
                 Set<Long> reportedFailed, Set<Long> waiting, FactorBasedPolicy policy, BalanceSettings settings,
                 LoadSamples loads, Duration drainTimeout) {
        Map<Long, String> where = new HashMap<>();
        Map<String, List<RedirectableConn>> onBackend = new HashMap<>();
        for (RedirectableConn c : sessions) {
            String b = c.backendAddress();
            if (b != null) {
                where.put(c.connectionId(), b);
                onBackend.computeIfAbsent(b, k -> new ArrayList<>()).add(c);
            }
        }
        Map<String, Integer> counts = new TreeMap<>();
        snapshot.keySet().forEach(b -> counts.put(b, 0));
        onBackend.forEach((b, list) -> counts.put(b, list.size()));
        noteUnaskedDepartures(where, now);
        MigrationBook.Outcomes outcomes = book.reconcile(where, reportedFailed, now);
        if (outcomes.failed() > 0 || outcomes.closed() > 0) {
            log.debug("balance: {} moved, {} did not move in time (backing off), {} closed while asked to move",
                    outcomes.landed(), outcomes.failed(), outcomes.closed());
        }
        for (String b : counts.keySet()) {
            BackendInfo info = snapshot.get(b);
            history.observe(b, info == null ? BackendState.REMOVED : info.state(), counts.get(b), now);
        }
        history.prune(now);
        long stale = settings.loadStaleAfter().toNanos();
        loads.prune(now, stale * 10);
        withdrawStale(snapshot);
        Map<String, BackendView> views = views(now, snapshot, counts, loads, stale);
        closeOverdue(now, views, where, onBackend, drainTimeout);

        // balance (on a backend taking sessions) leaves recently moved sessions alone; status does not
        Rebalancer.Movable movable = new Rebalancer.Movable(onBackend, c -> {
            long id = c.connectionId();
            boolean leaving = !views.get(where.get(id)).accepting();
            return book.eligible(id, now) && !closing.contains(id) && (leaving || !book.coolingDown(id, now));
        });
        waiting.retainAll(where.keySet());
        int slots = settings.maxConcurrentMigrations() - book.movingCount(waiting);
        int balanceMoves = 0;
        List<Rebalancer.Move> moves = rebalancer.plan(policy, views, movable, Math.max(0, slots), now);
        for (Rebalancer.Move m : moves) {
            log.debug("balance: asking session {} to move from {} to {} ({})", m.id(), m.from(), m.to(), m.reason());
            book.asked(m.id(), m.from(), m.to(), m.reason(), now);
            if (m.reason().equals(StatusFactor.NAME)) {
                leavingSince.putIfAbsent(m.id(), now);
            } else {
                balanceMoves++;
            }
            m.session().redirect(m.to(), m.reason());
        }
        return result(policy, views, counts, moves.size(), balanceMoves);
    }

    /** Sessions found on another backend without having been asked to move: their old one dropped them. */
    private void noteUnaskedDepartures(Map<Long, String> where, long now) {
        Set<Long> asked = new HashSet<>();
        book.inFlight().forEach(m -> asked.add(m.id()));
        where.forEach((id, b) -> {
            String before = lastWhere.get(id);
            if (before != null && !before.equals(b) && !asked.contains(id)) {
                history.suspect(before, now);
            }
        });
        lastWhere = where;
    }

    private Map<String, BackendView> views(long now, Map<String, BackendInfo> snapshot, Map<String, Integer> counts,
                                           LoadSamples loads, long stale) {
        Map<String, Integer> scoreCounts = new HashMap<>(counts);
        for (MigrationBook.InFlight m : book.inFlight()) {
            scoreCounts.merge(m.from(), -1, Integer::sum);
            scoreCounts.merge(m.to(), 1, Integer::sum);
        }
        Map<String, BackendView> views = new LinkedHashMap<>();
        for (String b : counts.keySet()) {
            BackendInfo info = snapshot.get(b);
            BackendState state = info == null ? BackendState.REMOVED : info.state();
            views.put(b, new BackendView(b, state, Math.max(0, scoreCounts.getOrDefault(b, 0)),
                    info == null ? Map.of() : info.labels(), loads.current(b, now, stale), history.settled(b, now),
                    history.sessionsAtLeave(b)));
        }
        return views;
    }

    /** A migration whose target stopped taking sessions is forgotten unjudged, so the next plan picks another. */
    private void withdrawStale(Map<String, BackendInfo> snapshot) {
        List<Long> stale = new ArrayList<>();
        for (MigrationBook.InFlight m : book.inFlight()) {
            BackendInfo to = snapshot.get(m.to());
            if (to == null || !to.state().acceptsNewSessions()) {
                stale.add(m.id());
            }
        }
        stale.forEach(book::withdraw);
    }

    /**
     * Closes, with an error naming why, sessions still on a draining or removed backend a drain timeout
     * after they were asked to leave (or, when no backend could take them, after they were first seen
     * there). Sessions on an unhealthy backend are never closed for it: they may still work there.
     */
    private void closeOverdue(long now, Map<String, BackendView> views, Map<Long, String> where,
                              Map<String, List<RedirectableConn>> onBackend, Duration drainTimeout) {
        boolean anyTarget = views.values().stream().anyMatch(BackendView::accepting);
        leavingSince.keySet().removeIf(id -> !where.containsKey(id) || views.get(where.get(id)).accepting());
        closing.retainAll(where.keySet());
        onBackend.forEach((b, list) -> {
            BackendView v = views.get(b);
            if (v.accepting() || v.state() == BackendState.UNHEALTHY) {
                return;
            }
            for (RedirectableConn c : list) {
                long id = c.connectionId();
                if (closing.contains(id)) {
                    continue;
                }
                if (!anyTarget) {
                    leavingSince.putIfAbsent(id, now);
                }
                Long since = leavingSince.get(id);
                if (since != null && now - since > drainTimeout.toNanos()) {
                    closing.add(id);
                    leavingSince.remove(id);
                    book.withdraw(id);
                    c.closeUnmovable(v.state().name().toLowerCase());
                }
            }
        });
    }

    private Result result(FactorBasedPolicy policy, Map<String, BackendView> views, Map<String, Integer> counts,
                          int moves, int balanceMoves) {
        Set<String> unsettled = new TreeSet<>();
        Map<String, Map<String, Integer>> scores = new TreeMap<>();
        views.values().forEach(v -> {
            if (v.accepting() && !v.settled()) {
                unsettled.add(v.address());
            }
            scores.put(v.address(), policy.scores(v));
        });
        List<BackendRouter.Pending> pending = book.pending().entrySet().stream()
                .map(e -> new BackendRouter.Pending(e.getKey().from(), e.getKey().to(), e.getKey().reason(), e.getValue()))
                .toList();
        return new Result(Map.copyOf(counts), Set.copyOf(unsettled), scores, pending, moves, balanceMoves);
    }
}
