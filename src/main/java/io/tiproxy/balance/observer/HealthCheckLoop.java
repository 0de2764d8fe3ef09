package io.tiproxy.balance.observer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Checks each backend every {@link ObserverSettings#interval()} (measured from the start of the previous
 * check, so a slow check is followed by the next one at once), one check per backend at a time.
 * Results are counted into the backend's {@link HealthTracker} on the observer thread; results of an
 * older generation of the backend (removed since) are dropped.
 *
 * <p>Owns the current {@link ObserverSettings}: {@link #reconfigure} replaces them while checks run
 * (a config reload of {@code health-check.*}), effective from each backend's next check.
 */
final class HealthCheckLoop {
    private static final Logger log = LoggerFactory.getLogger(HealthCheckLoop.class);
    /** Extra time a checker gets beyond the timeout before the loop gives up on it. */
    private static final Duration GUARD = Duration.ofSeconds(1);

    private final HealthChecker checker;
    private final ObserverThread thread;
    private final Consumer<BackendEntry> afterResult;
    /** Written on the observer thread only; volatile so that {@link #settings()} may be read anywhere. */
    private volatile ObserverSettings settings;

    /** @param afterResult called on the observer thread after each counted result */
    HealthCheckLoop(HealthChecker checker, ObserverSettings settings, ObserverThread thread,
                    Consumer<BackendEntry> afterResult) {
        this.checker = checker;
        this.settings = settings;
        this.thread = thread;
        this.afterResult = afterResult;
    }

    ObserverSettings settings() {
        return settings;
    }

    /** A tracker for a newly (re)discovered backend, with the current thresholds. */
    HealthTracker newTracker() {
        ObserverSettings s = settings;
        return s.checksEnabled() ? new HealthTracker(s.failThreshold(), s.recoverThreshold()) : HealthTracker.alwaysHealthy();
    }

    /** Checks the current generation of {@code entry} at once and then every interval (nothing while checks are off). */
    void start(BackendEntry entry) {
        entry.checking = false; // a check of an older generation may still run: its result is dropped
        if (settings.checksEnabled()) {
            schedule(entry, 0);
        }
    }

    /**
     * Replaces the settings, for the backends in {@code live}. The checker gets them first (the SQL
     * probe's service account). Then, per backend: the new thresholds judge its next result; its next
     * check comes after the new interval at the latest (sooner if it was due sooner); the new timeout
     * bounds the next check. Turning checks off stops them and makes every tracker healthy; turning them
     * on checks every backend at once, starting from healthy.
     */
    void reconfigure(ObserverSettings next, Collection<BackendEntry> live) {
        settings = next;
        checker.reconfigure(next);
        for (BackendEntry entry : live) {
            if (!next.checksEnabled()) {
                cancelNext(entry);
                entry.health.assumeHealthy();
                continue;
            }
            entry.health.thresholds(next.failThreshold(), next.recoverThreshold());
            if (!entry.checking) {
                long due = entry.nextCheck == null ? 0 : entry.nextCheck.getDelay(TimeUnit.MILLISECONDS);
                schedule(entry, Math.max(0, Math.min(due, next.interval().toMillis())));
            }
        }
    }

    private void schedule(BackendEntry entry, long delayMillis) {
        cancelNext(entry);
        long generation = entry.generation;
        entry.nextCheck = thread.schedule(() -> run(entry, generation), delayMillis);
    }

    private static void cancelNext(BackendEntry entry) {
        if (entry.nextCheck != null) {
            entry.nextCheck.cancel(false);
            entry.nextCheck = null;
        }
    }

    private void run(BackendEntry entry, long generation) {
        if (entry.generation != generation) {
            return; // removed since; a rediscovered backend has checks of its own
        }
        entry.nextCheck = null;
        if (!settings.checksEnabled()) {
            return;
        }
        entry.checking = true;
        long started = System.nanoTime();
        Duration timeout = settings.timeout();
        try {
            checker.check(entry.backend, timeout)
                    .orTimeout(timeout.plus(GUARD).toMillis(), TimeUnit.MILLISECONDS)
                    .whenComplete((result, error) -> thread.execute(() -> onResult(entry, generation, started,
                            error == null ? result : HealthResult.failed("health check did not finish: " + error))));
        } catch (RuntimeException e) {
            onResult(entry, generation, started, HealthResult.failed("health check failed to start: " + e));
        }
    }

    private void onResult(BackendEntry entry, long generation, long startedNanos, HealthResult result) {
        if (entry.generation != generation) {
            return;
        }
        entry.checking = false;
        if (!settings.checksEnabled()) {
            return; // turned off while this check ran: the backend counts as healthy now
        }
        if (result.healthy() && !result.reason().equals(entry.lastNote)) {
            entry.lastNote = result.reason();
            if (!result.reason().isEmpty()) {
                log.warn("backend {}: healthy, but {}", entry.address, result.reason());
            }
        }
        entry.health.record(result);
        afterResult.accept(entry);
        long elapsedMillis = (System.nanoTime() - startedNanos) / 1_000_000;
        schedule(entry, Math.max(0, settings.interval().toMillis() - elapsedMillis));
    }
}
