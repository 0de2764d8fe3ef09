package io.tiproxy.balance;

/**
 * Paces one factor's migrations: tokens accrue at the factor's rate up to one second's worth (at least
 * one), each migration takes one. Starts full, so the first move of a quiet factor is not delayed.
 * Driven by the caller's clock; not thread-safe (one rebalancing thread).
 */
final class TokenBucket {
    private double tokens = Double.NaN;
    private long lastNanos;

    /** Adds what {@code ratePerSecond} earned since the last refill. */
    void refill(double ratePerSecond, long nowNanos) {
        double capacity = Math.max(1, ratePerSecond);
        if (Double.isNaN(tokens)) {
            tokens = ratePerSecond > 0 ? capacity : 0;
        } else {
            double earned = ratePerSecond * Math.max(0, nowNanos - lastNanos) / 1e9;
            tokens = ratePerSecond > 0 ? Math.min(capacity, tokens + earned) : 0;
        }
        lastNanos = nowNanos;
    }

    boolean hasToken() {
        return tokens >= 1;
    }

    /** Takes one token; call only after {@link #hasToken()} said yes. */
    void take() {
        if (!hasToken()) {
            throw new IllegalStateException("no token left");
        }
        tokens -= 1;
    }
}
