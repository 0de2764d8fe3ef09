package io.tiproxy.balance;

import java.util.List;

/**
 * Sessions leave backends that take no new sessions (draining, unhealthy, removed) for ones that do.
 * Always asked first. The pace, unless configured: the sessions such a backend held when it left,
 * spread over 1 s, and at least 10 a second. TiProxy spreads them over 5 s; what protects the targets
 * from a storm of logins is {@code balance.max-concurrent-migrations} (moves in flight), so the pace only
 * needs to keep a drain from taking longer than it must: the sooner a draining or shut-down server is
 * empty, the shorter its shutdown grace can be.
 */
final class StatusFactor implements Factor {
    static final String NAME = "status";
    private static final double DRAIN_SECONDS = 1;
    private static final double MIN_AUTO_RATE = 10;

    private final double configuredRate;

    /** @param configuredRate sessions per second; 0 for the automatic pace */
    StatusFactor(double configuredRate) {
        this.configuredRate = configuredRate;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int score(BackendView backend) {
        return backend.accepting() ? 0 : 1;
    }

    @Override
    public boolean worthStarting(BackendView from, BackendView to) {
        return !from.accepting() && to.accepting();
    }

    @Override
    public double migrationsPerSecond(List<BackendView> backends) {
        if (configuredRate > 0) {
            return configuredRate;
        }
        int leaving = 0;
        for (BackendView b : backends) {
            if (!b.accepting()) {
                leaving += Math.max(b.sessionsAtLeave(), b.sessions());
            }
        }
        return Math.max(MIN_AUTO_RATE, leaving / DRAIN_SECONDS);
    }
}
