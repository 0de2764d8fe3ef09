package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendState;

import java.util.Map;
import java.util.Objects;

/**
 * One backend as the policy sees it in one round: an immutable value, so factors are pure functions of
 * it and the policy is tested without a clock or a network.
 *
 * @param address         "host:port"
 * @param state           from the observer ({@link BackendState#REMOVED} for a backend it no longer lists)
 * @param sessions        sessions on it, counting those asked to move in as there and those asked to move
 *                        out as gone (TiProxy's connection score)
 * @param labels          topology labels ({@code zone}, ...); empty for static backends
 * @param load            running threads besides the proxy's own probe (smoothed), or NaN when unknown
 * @param settled         false while a backend that came back is on probation: it takes no sessions
 *                        moved for balance, and new sessions only when no settled backend can
 * @param sessionsAtLeave sessions it held when it stopped taking new ones (0 while it takes them): the
 *                        status factor paces a drain by it, so the pace does not shrink as sessions leave
 */
public record BackendView(String address, BackendState state, int sessions, Map<String, String> labels, double load,
                          boolean settled, int sessionsAtLeave) {

    public BackendView {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(state, "state");
        labels = Map.copyOf(labels);
    }

    /** A healthy, settled backend without labels or load: the common case in tests. */
    public static BackendView healthy(String address, int sessions) {
        return new BackendView(address, BackendState.HEALTHY, sessions, Map.of(), Double.NaN, true, 0);
    }

    public boolean accepting() {
        return state.acceptsNewSessions();
    }

    public boolean hasLoad() {
        return !Double.isNaN(load);
    }

    public BackendView withSessions(int next) {
        return new BackendView(address, state, next, labels, load, settled, sessionsAtLeave);
    }

    public BackendView withLoad(double next) {
        return new BackendView(address, state, sessions, labels, next, settled, sessionsAtLeave);
    }
}
