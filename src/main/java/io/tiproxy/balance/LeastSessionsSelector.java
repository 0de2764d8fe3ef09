package io.tiproxy.balance;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Routes a new session to the backend holding the fewest sessions among those that may take new ones;
 * ties are broken by rotation so a burst of connections spreads instead of piling on one backend.
 */
public final class LeastSessionsSelector implements BackendSelector {
    private final Supplier<List<String>> candidates;
    private final Map<String, AtomicInteger> sessions = new ConcurrentHashMap<>();
    private final AtomicInteger rotation = new AtomicInteger();

    /** @param candidates the backends that may take new sessions now, read on every selection */
    public LeastSessionsSelector(Supplier<List<String>> candidates) {
        this.candidates = candidates;
    }

    @Override
    public String select(Set<String> exclude) {
        List<String> list = candidates.get();
        int n = list.size();
        if (n == 0) {
            return null;
        }
        int offset = Math.floorMod(rotation.getAndIncrement(), n);
        String best = null;
        int bestCount = Integer.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            String b = list.get((offset + i) % n);
            if (exclude.contains(b)) {
                continue;
            }
            int c = sessionCount(b);
            if (c < bestCount) {
                best = b;
                bestCount = c;
            }
        }
        return best;
    }

    @Override
    public void sessionAttached(String backend) {
        sessions.computeIfAbsent(backend, k -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void sessionDetached(String backend) {
        AtomicInteger c = sessions.get(backend);
        if (c != null) {
            c.decrementAndGet();
        }
    }

    public int sessionCount(String backend) {
        AtomicInteger c = sessions.get(backend);
        return c == null ? 0 : c.get();
    }
}
