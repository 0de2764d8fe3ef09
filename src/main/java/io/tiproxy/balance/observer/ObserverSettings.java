package io.tiproxy.balance.observer;

import java.time.Duration;
import java.util.Objects;

/**
 * How the {@link BackendObserver} checks backends.
 *
 * @param interval         time between two checks of one backend; {@link Duration#ZERO} disables health
 *                         checks (every discovered backend is HEALTHY at once)
 * @param timeout          bound on one check (connect, handshake, queries, HTTP)
 * @param failThreshold    consecutive failed checks before a HEALTHY backend turns UNHEALTHY
 * @param recoverThreshold consecutive good checks before an UNHEALTHY backend turns HEALTHY again (a newly
 *                         discovered backend needs only its first good check)
 * @param serviceUser      account the SQL probe logs in with (empty: probe with a well-formed login of a
 *                         nonexistent user, accepting "access denied" as alive); enables the Galera check
 * @param servicePassword  its password; never logged
 */
public record ObserverSettings(Duration interval, Duration timeout, int failThreshold, int recoverThreshold,
                               String serviceUser, String servicePassword) {

    public ObserverSettings {
        Objects.requireNonNull(interval, "interval");
        Objects.requireNonNull(timeout, "timeout");
        Objects.requireNonNull(serviceUser, "serviceUser");
        Objects.requireNonNull(servicePassword, "servicePassword");
        if (interval.isNegative()) {
            throw new IllegalArgumentException("interval must not be negative, got " + interval);
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        if (failThreshold < 1 || recoverThreshold < 1) {
            throw new IllegalArgumentException("thresholds must be at least 1, got fail " + failThreshold
                    + " recover " + recoverThreshold);
        }
    }

    /** Every 3 s, 2 s timeout, 2 failures to turn unhealthy, 1 success to recover, no service account. */
    public static ObserverSettings defaults() {
        return new ObserverSettings(Duration.ofSeconds(3), Duration.ofSeconds(2), 2, 1, "", "");
    }

    /** The same settings with a service account for the SQL probe. */
    public ObserverSettings withServiceAccount(String user, String password) {
        return new ObserverSettings(interval, timeout, failThreshold, recoverThreshold, user, password);
    }

    /** False when {@link #interval()} is zero. */
    public boolean checksEnabled() {
        return !interval.isZero();
    }

    /** True when a service account is configured. */
    public boolean hasServiceAccount() {
        return !serviceUser.isEmpty();
    }

    @Override
    public String toString() {
        return "ObserverSettings[interval=" + interval + ", timeout=" + timeout + ", failThreshold=" + failThreshold
                + ", recoverThreshold=" + recoverThreshold + ", serviceUser=" + serviceUser + ", servicePassword="
                + (servicePassword.isEmpty() ? "" : "******") + "]";
    }
}
