package io.tiproxy.manager.config;

import java.time.Duration;
import java.util.Objects;

/**
 * The {@code health-check} section: how often and how strictly the observer probes each backend.
 *
 * @param interval         time between two checks of one backend; 0 disables checks (every backend healthy)
 * @param timeout          bound on one check (connect, greeting, queries, HTTP)
 * @param failThreshold    consecutive failed checks before a healthy backend turns unhealthy
 * @param recoverThreshold consecutive good checks before an unhealthy backend turns healthy again
 */
public record HealthCheckConfig(Duration interval, Duration timeout, int failThreshold, int recoverThreshold) {

    public HealthCheckConfig {
        Objects.requireNonNull(interval, "interval");
        Objects.requireNonNull(timeout, "timeout");
    }

    /** Every 3 s, 2 s timeout, 2 failures to turn unhealthy, 1 success to recover. */
    public static HealthCheckConfig defaults() {
        return new HealthCheckConfig(Duration.ofSeconds(3), Duration.ofSeconds(2), 2, 1);
    }
}
