package io.tiproxy.proxy;

import io.tiproxy.protocol.Command;

/** What sessions report as they go (for metrics and the API); called on session event loops, must be cheap. */
public interface SessionEvents {
    /** A migration finished, successfully or not. */
    void migrated(String from, String to, String reason, boolean success, long millis);

    /** A client connected (before the connection limit is checked). */
    default void connectionOpened() {
    }

    /** A new client was refused before its handshake (it is closed too: {@link #connectionClosed} follows). */
    default void connectionRejected(RejectReason reason) {
    }

    /** A session ended, and why. */
    default void connectionClosed(ErrorSource source) {
    }

    /** A client logged in through {@code backend}, {@code nanos} after it connected. */
    default void handshakeDone(String backend, long nanos) {
    }

    /** A client command's response ended. */
    default void queryDone(Command command, String backend, long nanos) {
    }

    /** Bytes relayed for a session since its last report. */
    default void traffic(String backend, long fromBackend, long toBackend) {
    }

    SessionEvents NONE = (from, to, reason, success, millis) -> { };
}
