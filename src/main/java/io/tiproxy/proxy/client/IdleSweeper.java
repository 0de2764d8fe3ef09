package io.tiproxy.proxy.client;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Collection;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Enforces {@code proxy.idle-timeout}: one daemon thread looks at every session a few times per
 * timeout (at most every second) and asks those whose last command ended longer ago than the timeout
 * to close ({@link ClientConnection#closeIfIdle}), which each session decides on its own event loop.
 *
 * <p>A sweep instead of a timer per session: a command only stores a timestamp, so sessions pay
 * nothing per command for the feature, and the timeout is read afresh at every sweep, so a reloaded
 * value applies at once to every session, those already idle included.
 */
public final class IdleSweeper implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(IdleSweeper.class);
    static final Duration MAX_PERIOD = Duration.ofSeconds(1);
    static final Duration MIN_PERIOD = Duration.ofMillis(100);

    private final Supplier<? extends Collection<ClientConnection>> sessions;
    private final Supplier<Duration> idleTimeout;
    private final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tiproxy-idle-sweeper");
        t.setDaemon(true);
        return t;
    });

    /**
     * @param sessions    the live sessions, read at every sweep
     * @param idleTimeout the timeout in force, read at every sweep; zero: sessions never time out
     */
    public IdleSweeper(Supplier<? extends Collection<ClientConnection>> sessions, Supplier<Duration> idleTimeout) {
        this.sessions = sessions;
        this.idleTimeout = idleTimeout;
    }

    public void start() {
        scheduleNext(MAX_PERIOD);
    }

    /** Time between sweeps: a quarter of the timeout, within [{@link #MIN_PERIOD}, {@link #MAX_PERIOD}]. */
    static Duration period(Duration timeout) {
        if (timeout.isZero()) {
            return MAX_PERIOD;
        }
        Duration quarter = timeout.dividedBy(4);
        return quarter.compareTo(MIN_PERIOD) < 0 ? MIN_PERIOD : quarter.compareTo(MAX_PERIOD) > 0 ? MAX_PERIOD : quarter;
    }

    private void sweep() {
        Duration timeout = idleTimeout.get();
        try {
            if (!timeout.isZero()) {
                long now = System.nanoTime();
                for (ClientConnection session : sessions.get()) {
                    session.closeIfIdle(timeout, now);
                }
            }
        } catch (RuntimeException e) {
            log.warn("idle-timeout sweep failed; trying again", e);
        } finally {
            scheduleNext(period(timeout));
        }
    }

    private void scheduleNext(Duration delay) {
        try {
            executor.schedule(this::sweep, delay.toMillis(), TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    @Override
    public void close() {
        executor.shutdownNow();
    }
}
