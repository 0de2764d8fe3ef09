package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A cluster simulated for the router, with a clock the test moves: sessions are plain objects that do
 * what a real session does when asked to move (move before the next round, or not at all when told to
 * fail), backends are observer snapshots the test edits. No thread, no sleep: each {@link #run} step is
 * one rebalancing round, {@link BackendRouter#ROUND_MILLIS} of simulated time apart.
 */
final class FakeCluster {

    /** A session: where it is, and how it answers requests to move. */
    final class Session implements RedirectableConn {
        final long id;
        volatile String backend;
        String target;
        boolean failsToMove;
        /** With {@link #failsToMove}: tells the router at once, as a session whose login cannot be replayed does. */
        boolean reportsFailure;
        /** With {@link #failsToMove}: tells the router it waits for a safe point, as one in a long transaction does. */
        boolean reportsWaiting;
        boolean closedUnmovable;
        int requests;

        Session(long id, String backend) {
            this.id = id;
            this.backend = backend;
        }

        @Override
        public long connectionId() {
            return id;
        }

        @Override
        public String backendAddress() {
            return backend;
        }

        @Override
        public void redirect(String to, String reason) {
            requests++;
            target = to;
            asked.add(new Ask(now(), id, backend, to, reason));
            if (failsToMove && reportsFailure) {
                router.migrationEnded(id, false);
            }
            if (failsToMove && reportsWaiting) {
                router.migrationWaiting(id, true);
            }
        }

        @Override
        public void closeUnmovable(String backendState) {
            closedUnmovable = true;
            sessions.remove(this);
        }
    }

    /** One request to move, as the router made it. */
    record Ask(long atNanos, long id, String from, String to, String reason) {}

    final List<Session> sessions = new CopyOnWriteArrayList<>();
    final List<Ask> asked = new ArrayList<>();
    final List<Ask> moved = new ArrayList<>();
    private final Map<String, BackendInfo> backends = new TreeMap<>();
    private long clock = 1_000_000_000L;
    private long nextId = 1;
    private Duration drainTimeout = Duration.ofSeconds(15);
    final BackendRouter router;

    FakeCluster(BalanceSettings settings) {
        router = new BackendRouter(() -> sessions, null, () -> drainTimeout, settings, () -> clock);
    }

    FakeCluster() {
        this(BalanceSettings.defaults());
    }

    long now() {
        return clock;
    }

    void drainTimeout(Duration d) {
        drainTimeout = d;
    }

    /** Puts a backend into the observer's view in {@code state} (labels: {@code zone} when not null). */
    void backend(String address, BackendState state, String zone) {
        backends.put(address, new BackendInfo(address, state, "", 0, zone == null ? Map.of() : Map.of("zone", zone),
                Instant.EPOCH));
        router.update(backends);
    }

    void backend(String address, BackendState state) {
        backend(address, state, null);
    }

    void remove(String address) {
        backends.remove(address);
        router.update(backends);
    }

    List<Session> open(String backend, int n) {
        List<Session> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Session s = new Session(nextId++, backend);
            sessions.add(s);
            out.add(s);
        }
        return out;
    }

    /** Runs rounds for {@code d} of simulated time; sessions asked to move do so before the next round. */
    void run(Duration d) {
        long rounds = d.toMillis() / BackendRouter.ROUND_MILLIS;
        for (long i = 0; i < rounds; i++) {
            round();
        }
    }

    void round() {
        for (Session s : sessions) {
            if (s.target != null && !s.failsToMove) {
                moved.add(new Ask(clock, s.id, s.backend, s.target, ""));
                s.backend = s.target;
            }
            s.target = null;
        }
        clock += BackendRouter.ROUND_MILLIS * 1_000_000L;
        router.round();
    }

    int count(String backend) {
        return (int) sessions.stream().filter(s -> backend.equals(s.backend)).count();
    }

    Map<String, Integer> counts() {
        Map<String, Integer> out = new TreeMap<>();
        backends.keySet().forEach(b -> out.put(b, 0));
        sessions.forEach(s -> out.merge(s.backend, 1, Integer::sum));
        return out;
    }

    long askedFor(String reason) {
        return asked.stream().filter(a -> a.reason().equals(reason)).count();
    }

    long askedSince(long fromNanos) {
        return asked.stream().filter(a -> a.atNanos() >= fromNanos).count();
    }

    Set<String> targetsOf(String from) {
        Set<String> out = new HashSet<>();
        asked.stream().filter(a -> from.equals(a.from())).forEach(a -> out.add(a.to()));
        return out;
    }

    Map<String, Integer> askedTo(String from) {
        Map<String, Integer> out = new HashMap<>();
        asked.stream().filter(a -> from.equals(a.from())).forEach(a -> out.merge(a.to(), 1, Integer::sum));
        return out;
    }
}
