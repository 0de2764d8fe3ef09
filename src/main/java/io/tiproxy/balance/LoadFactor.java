package io.tiproxy.balance;

import java.util.List;

/**
 * Sessions leave a busy backend for a much less busy one. Load is the number of statements running on
 * the backend (MariaDB/MySQL {@code Threads_running}, without the proxy's own probe), smoothed; a
 * backend without a recent sample is unknown, and unknown load is neutral. Starting needs the source
 * to be busy ({@code busyThreads}) and {@code ratio} times the target's load plus one; continuing needs
 * half of each margin. The pace is low on purpose: the load of moved sessions shows only in the next
 * samples, and moving faster than that overshoots (pingcap/tiproxy#559).
 */
final class LoadFactor implements Factor {
    static final String NAME = "load";

    private final double busyThreads;
    private final double ratio;
    private final double rate;

    LoadFactor(double busyThreads, double ratio, double rate) {
        this.busyThreads = busyThreads;
        this.ratio = ratio;
        this.rate = rate;
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int score(BackendView backend) {
        return backend.hasLoad() ? (int) Math.round(backend.load()) : 0;
    }

    @Override
    public boolean worthStarting(BackendView from, BackendView to) {
        return from.hasLoad() && to.hasLoad() && from.load() >= busyThreads && from.load() >= ratio * (to.load() + 1);
    }

    @Override
    public boolean worthContinuing(BackendView from, BackendView to) {
        double halfRatio = 1 + (ratio - 1) / 2;
        return from.hasLoad() && to.hasLoad() && from.load() >= busyThreads / 2
                && from.load() >= halfRatio * (to.load() + 1);
    }

    @Override
    public double migrationsPerSecond(List<BackendView> backends) {
        return rate;
    }
}
