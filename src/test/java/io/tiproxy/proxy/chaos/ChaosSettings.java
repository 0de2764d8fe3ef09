package io.tiproxy.proxy.chaos;

import java.time.Duration;

/**
 * How long the chaos tests run. CI runs the short form: each fault happens once. The long form,
 * {@code -Dtiproxy.chaos.seconds=N}, repeats the faults (or holds them, for a hung backend) until about
 * N seconds have passed; every run still ends by itself.
 */
public final class ChaosSettings {
    /** {@code -Dtiproxy.chaos.seconds=N}: run the fault loops for about N seconds (0 or unset: once). */
    public static final String SECONDS_PROPERTY = "tiproxy.chaos.seconds";

    private ChaosSettings() {
    }

    /** The long form's duration; zero for the short form. */
    public static Duration duration() {
        String value = System.getProperty(SECONDS_PROPERTY, "0").trim();
        try {
            long seconds = Long.parseLong(value);
            if (seconds < 0) {
                throw new IllegalArgumentException(SECONDS_PROPERTY + " must not be negative, got " + value);
            }
            return Duration.ofSeconds(seconds);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(SECONDS_PROPERTY + " must be a whole number of seconds, got '" + value + "'", e);
        }
    }

    /** A deadline for "repeat until": now plus {@link #duration()}; a loop always runs at least once. */
    public static long deadlineNanos() {
        return System.nanoTime() + duration().toNanos();
    }
}
