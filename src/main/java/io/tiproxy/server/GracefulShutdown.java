package io.tiproxy.server;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's graceful shutdown (on SIGTERM), in TiProxy's order:
 * <ol>
 * <li>health turns 5xx, so load balancers stop sending new clients;</li>
 * <li>wait {@code graceful-wait-before-shutdown} while the listener still accepts (clients already
 *     routed here are not refused);</li>
 * <li>stop accepting;</li>
 * <li>ask every session to close at its next safe point: at once when it is idle outside a
 *     transaction, else right after the command or transaction in progress ends;</li>
 * <li>wait until every session has gone, for at most {@code graceful-close-conn-timeout};</li>
 * <li>close the sessions still there with a clear MySQL error (their open transactions roll back).</li>
 * </ol>
 * {@link #run()} works on the caller's thread and returns when every step is done. Build one per
 * shutdown, from the config in force when shutdown starts, and run it once.
 *
 * @param <S> the session type (the proxy's {@code ClientConnection})
 */
public final class GracefulShutdown<S> {
    private static final Logger log = LoggerFactory.getLogger(GracefulShutdown.class);
    private static final Duration POLL = Duration.ofMillis(50);
    /** After the forced close, how long to let event loops flush the error packets. */
    private static final Duration FORCED_CLOSE_GRACE = Duration.ofSeconds(1);

    /**
     * What shutdown does to the proxy.
     *
     * @param markUnhealthy  makes {@code /api/debug/health} answer 5xx ("shutting down")
     * @param stopAccepting  closes the SQL listener; sessions stay
     * @param sessions       the live sessions now (a session leaves once it has closed)
     * @param closeWhenIdle  asks one session to close at its next safe point; must not block
     * @param closeNow       closes one session now with the shutdown error; must not block
     */
    public record Steps<S>(Runnable markUnhealthy, Runnable stopAccepting,
                           Supplier<? extends Collection<S>> sessions,
                           Consumer<S> closeWhenIdle, Consumer<S> closeNow) {
        public Steps {
            Objects.requireNonNull(markUnhealthy, "markUnhealthy");
            Objects.requireNonNull(stopAccepting, "stopAccepting");
            Objects.requireNonNull(sessions, "sessions");
            Objects.requireNonNull(closeWhenIdle, "closeWhenIdle");
            Objects.requireNonNull(closeNow, "closeNow");
        }
    }

    /** Time as shutdown sees it; tests pass a fake one. */
    public interface Clock {
        long nanoTime();

        void sleep(Duration duration) throws InterruptedException;

        /** The JVM's monotonic clock and {@link Thread#sleep}. */
        Clock SYSTEM = new Clock() {
            @Override
            public long nanoTime() {
                return System.nanoTime();
            }

            @Override
            public void sleep(Duration duration) throws InterruptedException {
                Thread.sleep(duration.toMillis());
            }
        };
    }

    /**
     * What happened to the sessions.
     *
     * @param atStart         sessions when the listener stopped
     * @param closedForcibly  sessions still open at the timeout, closed with the shutdown error
     */
    public record Result(int atStart, int closedForcibly) {
        /** Sessions that ended on their own or at a safe point. */
        public int closedGracefully() {
            return atStart - closedForcibly;
        }
    }

    private final Steps<S> steps;
    private final Duration waitBeforeShutdown;
    private final Duration closeConnTimeout;
    private final Clock clock;

    /**
     * @param waitBeforeShutdown {@code proxy.graceful-wait-before-shutdown}
     * @param closeConnTimeout   {@code proxy.graceful-close-conn-timeout}
     */
    public GracefulShutdown(Steps<S> steps, Duration waitBeforeShutdown, Duration closeConnTimeout, Clock clock) {
        this.steps = Objects.requireNonNull(steps, "steps");
        this.waitBeforeShutdown = Objects.requireNonNull(waitBeforeShutdown, "waitBeforeShutdown");
        this.closeConnTimeout = Objects.requireNonNull(closeConnTimeout, "closeConnTimeout");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /**
     * Runs every step. Interrupting the calling thread cuts the waits short: the remaining steps
     * still run, at once (a second SIGTERM/Ctrl-C need not wait for the timeouts).
     */
    public Result run() {
        steps.markUnhealthy().run();
        boolean interrupted = false;
        if (!waitBeforeShutdown.isZero()) {
            log.info("shutting down: health reports unhealthy; still accepting for {} ms", waitBeforeShutdown.toMillis());
            interrupted = !sleep(waitBeforeShutdown);
        }
        steps.stopAccepting().run();
        List<S> open = List.copyOf(steps.sessions().get());
        log.info("shutting down: stopped accepting; {} sessions get up to {} ms to finish their transactions",
                open.size(), closeConnTimeout.toMillis());
        open.forEach(steps.closeWhenIdle());
        long deadline = clock.nanoTime() + closeConnTimeout.toNanos();
        while (!interrupted && !steps.sessions().get().isEmpty() && clock.nanoTime() - deadline < 0) {
            interrupted = !sleep(POLL);
        }
        List<S> left = List.copyOf(steps.sessions().get());
        if (!left.isEmpty()) {
            log.info("shutting down: closing {} sessions still busy after {} ms", left.size(), closeConnTimeout.toMillis());
            left.forEach(steps.closeNow());
            long graceEnd = clock.nanoTime() + FORCED_CLOSE_GRACE.toNanos();
            while (!interrupted && !steps.sessions().get().isEmpty() && clock.nanoTime() - graceEnd < 0) {
                interrupted = !sleep(POLL);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Result result = new Result(open.size(), left.size());
        log.info("shutting down: sessions closed, {} at a safe point and {} cut off", result.closedGracefully(),
                result.closedForcibly());
        return result;
    }

    /** Sleeps; false when interrupted. */
    private boolean sleep(Duration duration) {
        try {
            clock.sleep(duration);
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }
}
