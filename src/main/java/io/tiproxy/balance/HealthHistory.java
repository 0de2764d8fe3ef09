package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendState;

import java.util.HashMap;
import java.util.Map;

/**
 * Remembers how each backend's health went, to keep a flapping backend from making sessions shuttle
 * (pingcap/tiproxy#366: a health check that fails every other round moved sessions away and back each
 * time). A backend that comes back (from unhealthy or removed) after it was taking sessions before is on
 * probation: no sessions are moved to it for balance, and new sessions go to it only when no settled
 * backend can take them. An operator's undrain is no health event and starts no probation. The
 * probation is {@link #PROBATION_BASE_NANOS} and doubles with each return, up to
 * {@link #PROBATION_MAX_NANOS}; the count of returns is forgotten after {@link #FORGET_NANOS} of steady
 * health. A backend seen for the first time (new, or the proxy just started) needs no probation.
 *
 * <p>So a backend toggling every second loses its sessions once, at the status factor's pace, and gets
 * none back until it has been steady; one brief outage costs {@link #PROBATION_BASE_NANOS} and then
 * balance brings its share back (pingcap/tiproxy#967). Not thread-safe: owned by the rebalancing thread.
 */
final class HealthHistory {
    static final long PROBATION_BASE_NANOS = 5_000_000_000L;
    static final long PROBATION_MAX_NANOS = 300_000_000_000L;
    static final long FORGET_NANOS = 600_000_000_000L;

    private static final class Entry {
        BackendState state;
        boolean accepting;
        boolean everAccepted;
        int returns;
        long acceptingSince;
        long probationUntil;
        int sessionsAtLeave;
        long lastSeen;
    }

    private final Map<String, Entry> entries = new HashMap<>();

    /** Records the backend's state in this round ({@link BackendState#REMOVED} for one no longer listed). */
    void observe(String address, BackendState state, int sessions, long now) {
        Entry e = entries.computeIfAbsent(address, a -> new Entry());
        boolean accepting = state.acceptsNewSessions();
        e.lastSeen = now;
        if (accepting && !e.accepting) {
            if (e.everAccepted && e.state != BackendState.DRAINING) {
                e.returns++;
                e.probationUntil = now + Math.min(PROBATION_MAX_NANOS, PROBATION_BASE_NANOS << Math.min(e.returns - 1, 20));
            }
            e.everAccepted = true;
            e.acceptingSince = now;
            e.sessionsAtLeave = 0;
        } else if (accepting && now - e.acceptingSince >= FORGET_NANOS) {
            e.returns = 0;
        } else if (!accepting) {
            e.sessionsAtLeave = Math.max(e.sessionsAtLeave, sessions);
        }
        e.accepting = accepting;
        e.state = state;
    }

    /**
     * Sessions left the backend without being asked (their backend connection died and they were rebuilt
     * elsewhere): it may be going down before a health check has noticed, so it is on probation for
     * {@link #PROBATION_BASE_NANOS}. Sessions are not moved back onto a server that just dropped them.
     */
    void suspect(String address, long now) {
        Entry e = entries.get(address);
        if (e != null) {
            e.probationUntil = Math.max(e.probationUntil, now + PROBATION_BASE_NANOS);
        }
    }

    /** Whether the backend takes sessions and is past its probation. */
    boolean settled(String address, long now) {
        Entry e = entries.get(address);
        return e != null && e.accepting && now >= e.probationUntil;
    }

    /** Sessions it held when it stopped taking new ones; 0 while it takes them. */
    int sessionsAtLeave(String address) {
        Entry e = entries.get(address);
        return e == null || e.accepting ? 0 : e.sessionsAtLeave;
    }

    /** Forgets backends not observed for a long time. */
    void prune(long now) {
        entries.values().removeIf(e -> now - e.lastSeen >= FORGET_NANOS);
    }
}
