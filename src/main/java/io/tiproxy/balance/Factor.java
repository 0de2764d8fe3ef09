package io.tiproxy.balance;

import java.util.List;

/**
 * One reason to prefer one backend over another (after TiProxy's {@code pkg/balance/factor}). A factor
 * is pure: it judges {@link BackendView}s, keeps no state, and the policy asks factors in order.
 *
 * <p>Hysteresis: a factor starts moving sessions off a backend only past {@link #worthStarting}, and,
 * once moving, keeps going while {@link #worthContinuing} holds, which is the weaker test. A balanced
 * cluster never passes the start test, so it stays still; a cluster being evened out does not stop one
 * session short because of a rounding edge.
 */
public interface Factor {
    /** The factor's name: the {@code reason} of its migrations and the {@code factor} label of its scores. */
    String name();

    /** How bad the backend is by this factor alone (0 is best); exported as {@code tiproxy_balance_b_score}. */
    int score(BackendView backend);

    /** Whether the difference between {@code from} and {@code to} is worth starting to move sessions for. */
    boolean worthStarting(BackendView from, BackendView to);

    /** Whether sessions already moving off {@code from} for this factor should keep moving to {@code to}. */
    default boolean worthContinuing(BackendView from, BackendView to) {
        return worthStarting(from, to);
    }

    /** How many sessions this factor may move per second, given the backends of this round; 0: none. */
    double migrationsPerSecond(List<BackendView> backends);
}
