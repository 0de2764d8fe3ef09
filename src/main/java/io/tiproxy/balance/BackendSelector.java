package io.tiproxy.balance;

import java.util.Set;

/**
 * Chooses the backend for a new session and is told where sessions sit. Declared here, used by the
 * proxy; implementations never import the proxy.
 */
public interface BackendSelector {
    /** The best backend ("host:port") not in {@code exclude}, or null when none can take a session. */
    String select(Set<String> exclude);

    /** A session now sits on {@code backend}. */
    void sessionAttached(String backend);

    /** A session left {@code backend} (closed or moved). */
    void sessionDetached(String backend);

    /**
     * A session's migration ended: it moved ({@code moved}), or this attempt failed or cannot be made
     * (its login cannot be replayed, no target can take it). Lets the router settle the move and plan
     * the next ones at once instead of at its next round or after its timeout. Called on the session's
     * event loop; must not block.
     */
    default void migrationEnded(long connectionId, boolean moved) {
    }

    /**
     * A session asked to move waits for a safe point (an open transaction, a pending result, a lock)
     * ({@code waiting}), or has reached one and starts its move ({@code !waiting}). A waiting session
     * holds no slot of the concurrency cap, so a few long transactions do not stall a drain of everyone
     * else. Called on the session's event loop; must not block.
     */
    default void migrationWaiting(long connectionId, boolean waiting) {
    }

    /** Why no backend can take a session, for the client's error message. */
    default String unavailableReason() {
        return "no backend is available";
    }
}
