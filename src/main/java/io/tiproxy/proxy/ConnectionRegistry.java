package io.tiproxy.proxy;

import java.util.Collection;
import java.util.Collections;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** All live client sessions of the proxy, by connection id; enforces the connection limit. */
public final class ConnectionRegistry<S> {
    private final ConcurrentHashMap<Long, S> sessions = new ConcurrentHashMap<>();
    private final AtomicLong nextId = new AtomicLong(1);
    private final AtomicInteger count = new AtomicInteger();

    /** Allocates a connection id. Ids are never reused while the proxy runs and fit in 32 bits for a long time. */
    public long nextConnectionId() {
        return nextId.getAndIncrement() & 0xffffffffL;
    }

    /** Registers a session unless {@code limit} (> 0) sessions are already registered. */
    public boolean tryRegister(long id, S session, int limit) {
        while (true) {
            int n = count.get();
            if (limit > 0 && n >= limit) {
                return false;
            }
            if (count.compareAndSet(n, n + 1)) {
                sessions.put(id, session);
                return true;
            }
        }
    }

    public void unregister(long id) {
        if (sessions.remove(id) != null) {
            count.decrementAndGet();
        }
    }

    public S get(long id) {
        return sessions.get(id);
    }

    public int size() {
        return count.get();
    }

    public Collection<S> all() {
        return Collections.unmodifiableCollection(sessions.values());
    }
}
