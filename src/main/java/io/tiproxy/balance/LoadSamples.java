package io.tiproxy.balance;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The latest load of each backend, smoothed: each sample moves the value halfway
 * (an exponentially weighted average, as TiProxy smooths CPU usage), so one odd sample does not move
 * sessions. A value older than the stale limit counts as unknown. Thread-safe: samples arrive on the
 * sampler's thread, readers are the router's threads.
 */
final class LoadSamples {
    private static final double ALPHA = 0.5;

    private record Sample(double value, long atNanos) {}

    private final Map<String, Sample> samples = new ConcurrentHashMap<>();

    /** A new reading of {@code backend}'s load (running threads besides the probe's own). */
    void report(String backend, double load, long now) {
        if (Double.isNaN(load) || load < 0) {
            return;
        }
        samples.compute(backend, (b, old) -> new Sample(old == null ? load : old.value() + ALPHA * (load - old.value()), now));
    }

    /** The smoothed load, or NaN when there is no sample younger than {@code staleNanos}. */
    double current(String backend, long now, long staleNanos) {
        Sample s = samples.get(backend);
        return s == null || now - s.atNanos() > staleNanos ? Double.NaN : s.value();
    }

    /** Forgets backends not sampled for {@code staleNanos}. */
    void prune(long now, long staleNanos) {
        samples.values().removeIf(s -> now - s.atNanos() > staleNanos);
    }
}
