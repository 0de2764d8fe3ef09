package io.tiproxy.balance;

/**
 * Paces one factor's migrations: tokens accrue at the factor's rate up to one second's worth (at least
 * one), each migration takes one. Starts full, so the first move of a quiet factor is not delayed; when
 * the rate rises (the status factor's pace follows the sessions of a backend that just started to
 * drain) the bucket keeps how full it was, so a quiet factor's full bucket is full at the new rate too.
 * Driven by the caller's clock; not thread-safe (one rebalancing thread).
 */
final class TokenBucket {
    private double tokens = Double.NaN;
    private double capacity;
    private long lastNanos;

    /** Adds what {@code ratePerSecond} earned since the last refill. */
    void refill(double ratePerSecond, long nowNanos) {
        double nextCapacity = Math.max(1, ratePerSecond);
        if (ratePerSecond <= 0) {
            tokens = 0;
        } else if (Double.isNaN(tokens)) {
            tokens = nextCapacity;
        } else {
            if (nextCapacity > capacity) {
                tokens = tokens / capacity * nextCapacity;
            }
            double earned = ratePerSecond * Math.max(0, nowNanos - lastNanos) / 1e9;
            tokens = Math.min(nextCapacity, tokens + earned);
        }
        capacity = nextCapacity;
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
