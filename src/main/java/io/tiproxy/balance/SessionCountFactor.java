package io.tiproxy.balance;

import java.util.List;

/**
 * Evens out session counts (TiProxy's {@code conn} factor). Starting needs the source to hold more
 * than {@code ratio} times (the target's count + 1) and at least {@code minGap} more; continuing needs
 * a gap of 2, the least a move still narrows. So 100/100/100/0 evens out to 75 each and then holds,
 * while 40/37/36 never starts.
 */
final class SessionCountFactor implements Factor {
    static final String NAME = "conn";

    private final double ratio;
    private final int minGap;
    private final double rate;

    SessionCountFactor(double ratio, int minGap, double rate) {
        this.ratio = ratio;
        this.minGap = minGap;
        this.rate = rate;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int score(BackendView backend) {
        return Math.max(0, backend.sessions());
    }

    @Override
    public boolean worthStarting(BackendView from, BackendView to) {
        return from.sessions() - to.sessions() >= minGap && from.sessions() > ratio * (to.sessions() + 1);
    }

    @Override
    public boolean worthContinuing(BackendView from, BackendView to) {
        return from.sessions() - to.sessions() >= 2;
    }

    @Override
    public double migrationsPerSecond(List<BackendView> backends) {
        return rate;
    }
}
