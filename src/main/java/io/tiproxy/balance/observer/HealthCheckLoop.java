package io.tiproxy.balance.observer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Checks each backend every {@link ObserverSettings#interval()} (measured from the start of the previous
 * check, so a slow check is followed by the next one at once), one check per backend at a time.
 * Results are counted into the backend's {@link HealthTracker} on the observer thread; results of an
 * older generation of the backend (removed since) are dropped.
 */
final class HealthCheckLoop {
    private static final Logger log = LoggerFactory.getLogger(HealthCheckLoop.class);
    /** Extra time a checker gets beyond the timeout before the loop gives up on it. */
    private static final Duration GUARD = Duration.ofSeconds(1);

    private final HealthChecker checker;
    private final ObserverSettings settings;
    private final ObserverThread thread;
    private final Consumer<BackendEntry> afterResult;

    /** @param afterResult called on the observer thread after each counted result */
    HealthCheckLoop(HealthChecker checker, ObserverSettings settings, ObserverThread thread,
                    Consumer<BackendEntry> afterResult) {
        this.checker = checker;
        this.settings = settings;
        this.thread = thread;
        this.afterResult = afterResult;
    }

    /** Starts checking the current generation of {@code entry} after {@code delayMillis}. */
    void schedule(BackendEntry entry, long delayMillis) {
        long generation = entry.generation;
        thread.schedule(() -> run(entry, generation), delayMillis);
    }

    private void run(BackendEntry entry, long generation) {
        if (entry.generation != generation) {
            return;
        }
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
