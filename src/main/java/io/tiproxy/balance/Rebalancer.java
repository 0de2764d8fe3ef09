package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Plans one rebalancing round: which sessions move where. Pure logic on {@link BackendView}s and a clock
 * value handed in, so it is tested round by round without sleeping.
 *
 * <p>Each move: the policy's factors in order; the first one with a token left in its
 * {@link TokenBucket} and a pair of backends it decides ({@link FactorBasedPolicy#judge}) moves the oldest
 * movable session of the source that is worst by that factor to the best target
 * ({@link FactorBasedPolicy#betterTarget}: by the factors' own thresholds, then session count).
 * The views are updated after every move, so moves spread over several targets instead of piling onto
 * the one that was idlest when the round began (pingcap/tiproxy#549). A round stops at the free slots of
 * the concurrency cap, when every factor's tokens are spent, or when no pair is worth a move.
 *
 * <p>Targets take new sessions and are settled ({@link HealthHistory}); the status factor may use an
 * unsettled target only for a draining or removed source when no settled one exists (those sessions must
 * go), never for an unhealthy source (its sessions still work where they are). Not thread-safe.
 */
final class Rebalancer {
    private static final Logger log = LoggerFactory.getLogger(Rebalancer.class);

    /** Move {@code session} from {@code from} to {@code to} for factor {@code reason}. */
    record Move(RedirectableConn session, String from, String to, String reason) {
        long id() {
            return session.connectionId();
        }
    }

    /**
     * The sessions of each backend and which of them may be asked to move now. A backend's list is
     * filtered and sorted oldest (lowest id) first only when a move from it is planned, so a round in a
     * balanced cluster costs no sorting at all.
     */
    static final class Movable {
        private final Map<String, List<RedirectableConn>> byBackend;
        private final Predicate<RedirectableConn> eligible;
        private final Map<String, List<RedirectableConn>> prepared = new HashMap<>();
        private final Map<String, Integer> next = new HashMap<>();

        /** @param eligible whether a session may be asked to move now (judged once, when its backend is a source) */
        Movable(Map<String, List<RedirectableConn>> byBackend, Predicate<RedirectableConn> eligible) {
            this.byBackend = byBackend;
            this.eligible = eligible;
        }

        boolean has(String backend) {
            return next.getOrDefault(backend, 0) < prepared(backend).size();
        }

        RedirectableConn take(String backend) {
            int i = next.getOrDefault(backend, 0);
            next.put(backend, i + 1);
            return prepared(backend).get(i);
        }

        private List<RedirectableConn> prepared(String backend) {
            return prepared.computeIfAbsent(backend, b -> byBackend.getOrDefault(b, List.of()).stream()
                    .filter(eligible).sorted(Comparator.comparingLong(RedirectableConn::connectionId)).toList());
        }
    }

    private final Map<String, TokenBucket> buckets = new HashMap<>();
    /** Sources each factor is moving sessions off (hysteresis), by factor name. */
    private final Map<String, Set<String>> active = new HashMap<>();

    /**
     * @param views backends of this round by address (with sessions in flight counted at their targets)
     * @param slots how many more migrations the concurrency cap allows now
     */
    List<Move> plan(FactorBasedPolicy policy, Map<String, BackendView> views, Movable movable, int slots, long now) {
        Map<String, BackendView> v = new LinkedHashMap<>(views);
        List<BackendView> all = List.copyOf(v.values());
        for (Factor f : policy.factors()) {
            buckets.computeIfAbsent(f.name(), n -> new TokenBucket()).refill(f.migrationsPerSecond(all), now);
        }
        List<Move> moves = new ArrayList<>();
        while (moves.size() < slots) {
            Move m = nextMove(policy, v, movable);
            if (m == null) {
                break;
            }
            moves.add(m);
            BackendView from = v.get(m.from());
            BackendView to = v.get(m.to());
            v.put(m.from(), from.withSessions(from.sessions() - 1));
            v.put(m.to(), to.withSessions(to.sessions() + 1));
        }
        prune(policy, v);
        return moves;
    }

    private Move nextMove(FactorBasedPolicy policy, Map<String, BackendView> v, Movable movable) {
        for (Factor f : policy.factors()) {
            TokenBucket bucket = buckets.get(f.name());
            if (!bucket.hasToken()) {
                continue;
            }
            BackendView[] pair = bestPair(policy, f, v, movable);
            if (pair == null) {
                continue;
            }
            bucket.take();
            Set<String> moving = active.computeIfAbsent(f.name(), n -> new HashSet<>());
            if (moving.add(pair[0].address())) {
                log.info("balance: moving sessions off {} for {} (first target {}; scores {} vs {})", pair[0].address(),
                        f.name(), pair[1].address(), policy.scores(pair[0]), policy.scores(pair[1]));
            }
            return new Move(movable.take(pair[0].address()), pair[0].address(), pair[1].address(), f.name());
        }
        return null;
    }

    /** The source worst by {@code f} that {@code f} decides to move from, and its best target; or null. */
    private BackendView[] bestPair(FactorBasedPolicy policy, Factor f, Map<String, BackendView> v, Movable movable) {
        List<BackendView> sources = v.values().stream()
                .sorted(Comparator.comparingInt((BackendView b) -> f.score(b)).reversed()
                        .thenComparing(Comparator.comparingInt(BackendView::sessions).reversed())
                        .thenComparing(BackendView::address))
                .toList();
        for (BackendView s : sources) {
            BackendView best = null;
            for (BackendView t : v.values()) {
                if (!validTarget(f, s, t, v)) {
                    continue;
                }
                FactorBasedPolicy.Verdict verdict = policy.judge(s, t,
                        (factor, address) -> active.getOrDefault(factor.name(), Set.of()).contains(address));
                if (verdict.moves() && verdict.factor() == f
                        && (best == null || policy.betterTarget(t, best))) {
                    best = t;
                }
            }
            // sessions are looked at only for a source worth moving from
            if (best != null && movable.has(s.address())) {
                return new BackendView[] {s, best};
            }
        }
        return null;
    }

    private static boolean validTarget(Factor f, BackendView s, BackendView t, Map<String, BackendView> v) {
        if (t == s || t.address().equals(s.address()) || !t.accepting()) {
            return false;
        }
        if (t.settled()) {
            return true;
        }
        if (!(f instanceof StatusFactor) || s.state() == BackendState.UNHEALTHY) {
            return false;
        }
        for (BackendView other : v.values()) {
            if (other.accepting() && other.settled() && !other.address().equals(s.address())) {
                return false; // a settled target exists: use that one
            }
        }
        return true;
    }

    /** Stops a factor's hysteresis for sources it would no longer move sessions off. */
    private void prune(FactorBasedPolicy policy, Map<String, BackendView> v) {
        Set<String> names = new HashSet<>();
        for (Factor f : policy.factors()) {
            names.add(f.name());
            active.computeIfAbsent(f.name(), n -> new HashSet<>()).removeIf(address -> {
                BackendView s = v.get(address);
                if (s == null) {
                    return true;
                }
                for (BackendView t : v.values()) {
                    if (validTarget(f, s, t, v) && f.worthContinuing(s, t)) {
                        return false;
                    }
                }
                log.info("balance: stopped moving sessions off {} for {}", address, f.name());
                return true;
            });
        }
        active.keySet().retainAll(names);
        buckets.keySet().retainAll(names);
    }
}
