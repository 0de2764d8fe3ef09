package io.tiproxy.balance.observer;

/**
 * What the checks say about one backend, with thresholds against flapping: a healthy backend turns
 * unhealthy after {@code failThreshold} failed checks in a row, an unhealthy one recovers after
 * {@code recoverThreshold} good checks in a row; a backend that never passed a check is unhealthy
 * ("not checked yet") until its first good check. Not thread-safe (owned by the observer thread).
 */
final class HealthTracker {
    static final String NOT_CHECKED = "not checked yet";

    private int failThreshold;
    private int recoverThreshold;
    private boolean healthy;
    private boolean everPassed;
    private int failures;
    private int successes;
    private String reason = NOT_CHECKED;

    HealthTracker(int failThreshold, int recoverThreshold) {
        this.failThreshold = failThreshold;
        this.recoverThreshold = recoverThreshold;
    }

    /** A tracker for a backend that is not checked at all (health checks disabled). */
    static HealthTracker alwaysHealthy() {
        HealthTracker tracker = new HealthTracker(1, 1);
        tracker.assumeHealthy();
        return tracker;
    }

    /** Health checks were turned off: the backend counts as healthy, and the counts start over. */
    void assumeHealthy() {
        healthy = true;
        everPassed = true;
        failures = 0;
        successes = 0;
        reason = "";
    }

    /**
     * New thresholds (a config reload). The counts so far stay; the next result is judged by the new
     * thresholds, so a healthy backend with as many failures in a row as the new fail threshold turns
     * unhealthy on its next failed check, not at once.
     */
    void thresholds(int failThreshold, int recoverThreshold) {
        this.failThreshold = failThreshold;
        this.recoverThreshold = recoverThreshold;
    }

    /** Counts one check result. */
    void record(HealthResult result) {
        if (result.healthy()) {
            failures = 0;
            successes++;
            if (!healthy && (!everPassed || successes >= recoverThreshold)) {
                healthy = true;
                reason = "";
            }
            everPassed = true;
        } else {
            successes = 0;
            failures++;
            if (!healthy) {
                reason = result.reason();
            } else if (failures >= failThreshold) {
                healthy = false;
                reason = result.reason();
            }
        }
    }

    boolean healthy() {
        return healthy;
    }

    /** Why unhealthy (the latest failure); empty when healthy. */
    String reason() {
        return reason;
    }
}
