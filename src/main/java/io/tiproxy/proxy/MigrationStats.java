package io.tiproxy.proxy;

import java.util.concurrent.atomic.AtomicLong;

/** Counts migrations by result; cheap, lock-free, readable from any thread. */
public final class MigrationStats implements SessionEvents {
    private final AtomicLong succeeded = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final SessionEvents next;

    /** @param next further listener (metrics), or {@link SessionEvents#NONE} */
    public MigrationStats(SessionEvents next) {
        this.next = next;
    }

    @Override
    public void migrated(String from, String to, String reason, boolean success, long millis) {
        (success ? succeeded : failed).incrementAndGet();
        next.migrated(from, to, reason, success, millis);
    }

    @Override
    public void connectionOpened() {
        next.connectionOpened();
    }

    @Override
    public void connectionRejected(RejectReason reason) {
        next.connectionRejected(reason);
    }

    @Override
    public void connectionClosed(ErrorSource source) {
        next.connectionClosed(source);
    }

    @Override
    public void handshakeDone(String backend, long nanos) {
        next.handshakeDone(backend, nanos);
    }

    @Override
    public void queryDone(io.tiproxy.protocol.Command command, String backend, long nanos) {
        next.queryDone(command, backend, nanos);
    }

    @Override
    public void traffic(String backend, long fromBackend, long toBackend) {
        next.traffic(backend, fromBackend, toBackend);
    }

    public long succeeded() {
        return succeeded.get();
    }

    public long failed() {
        return failed.get();
    }
}
