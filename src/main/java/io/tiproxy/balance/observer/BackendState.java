package io.tiproxy.balance.observer;

/**
 * What the proxy may do with a backend. Legal transitions (anything else is a bug):
 * <pre>
 *   HEALTHY   -> UNHEALTHY (health check failed N times), DRAINING (operator / fail-backend-list), REMOVED (gone from discovery)
 *   UNHEALTHY -> HEALTHY (recovered M times), DRAINING, REMOVED
 *   DRAINING  -> HEALTHY / UNHEALTHY (undrained: back to what health says), REMOVED
 *   REMOVED   -> HEALTHY / UNHEALTHY (discovered again)
 * </pre>
 * Only HEALTHY backends take new sessions; sessions on any other state migrate away.
 */
public enum BackendState {
    HEALTHY, UNHEALTHY, DRAINING, REMOVED;

    public boolean acceptsNewSessions() {
        return this == HEALTHY;
    }

    /** Whether the table above allows moving from this state to {@code next} (staying put is not a move). */
    public boolean canMoveTo(BackendState next) {
        return switch (this) {
            case HEALTHY -> next == UNHEALTHY || next == DRAINING || next == REMOVED;
            case UNHEALTHY -> next == HEALTHY || next == DRAINING || next == REMOVED;
            case DRAINING -> next == HEALTHY || next == UNHEALTHY || next == REMOVED;
            case REMOVED -> next == HEALTHY || next == UNHEALTHY;
        };
    }

    /**
     * Checks a move against the table above.
     *
     * @throws IllegalStateException when the move is not listed: a bug in whoever asked for it
     */
    public void checkMoveTo(BackendState next) {
        if (!canMoveTo(next)) {
            throw new IllegalStateException("illegal backend state transition " + this + " -> " + next);
        }
    }
}
