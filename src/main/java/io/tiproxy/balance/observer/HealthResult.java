package io.tiproxy.balance.observer;

import java.util.Objects;

/**
 * The outcome of one health check.
 *
 * @param healthy whether the backend can take sessions
 * @param reason  why not (shown in the API and logs); when healthy, empty or a warning worth logging
 *                (the service account cannot log in, so the Galera state is unknown)
 */
public record HealthResult(boolean healthy, String reason) {
    private static final HealthResult OK = new HealthResult(true, "");

    public HealthResult {
        Objects.requireNonNull(reason, "reason");
    }

    public static HealthResult ok() {
        return OK;
    }

    public static HealthResult failed(String reason) {
        return new HealthResult(false, reason);
    }
}
