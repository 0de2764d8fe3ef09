package io.tiproxy.proxy;

/** What sessions report as they go (for metrics and the API); called on session event loops, must be cheap. */
public interface SessionEvents {
    /** A migration finished, successfully or not. */
    void migrated(String from, String to, String reason, boolean success, long millis);

    SessionEvents NONE = (from, to, reason, success, millis) -> { };
}
