package io.tiproxy.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/** The shutdown steps on a fake clock: sessions are names, and they leave when the script says. */
class GracefulShutdownTest {
    private static final Duration WAIT = Duration.ofSeconds(2);
    private static final Duration TIMEOUT = Duration.ofSeconds(15);

    /** Time that passes only in sleep(); events happen at set times. */
    private final class FakeClock implements GracefulShutdown.Clock {
        long now;

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public void sleep(Duration duration) {
            now += duration.toNanos();
            transactionEnds.forEach((session, at) -> {
                if (now >= at && asked.contains(session)) {
                    leave(session);
                }
            });
        }
    }

    private final FakeClock clock = new FakeClock();
    private final Set<String> live = ConcurrentHashMap.newKeySet();
    private final Set<String> asked = ConcurrentHashMap.newKeySet();
    /** Sessions inside a transaction, with the time (ns) it commits and they become idle. */
    private final java.util.Map<String, Long> transactionEnds = new ConcurrentHashMap<>();
    private final List<String> events = new ArrayList<>();

    private void leave(String session) {
        if (live.remove(session)) {
            events.add("closed " + session + " at " + Duration.ofNanos(clock.now).toMillis());
        }
    }

    private GracefulShutdown<String> shutdown(Duration wait, Duration timeout) {
        return new GracefulShutdown<>(new GracefulShutdown.Steps<String>(
                () -> events.add("unhealthy at " + Duration.ofNanos(clock.now).toMillis()),
                () -> events.add("stopped accepting at " + Duration.ofNanos(clock.now).toMillis()),
                () -> (Collection<String>) List.copyOf(live),
                session -> {
                    asked.add(session);
                    if (!transactionEnds.containsKey(session)) {
                        leave(session); // idle: closes at once
                    }
                },
                session -> {
                    events.add("cut off " + session + " at " + Duration.ofNanos(clock.now).toMillis());
                    live.remove(session);
                }), wait, timeout, clock);
    }

    @Test
    void idleSessionsCloseAtOnceBusyOnesAfterTheirTransactionAndStuckOnesAtTheTimeout() {
        live.addAll(List.of("idle", "committing", "stuck"));
        transactionEnds.put("committing", WAIT.plusMillis(300).toNanos());
        transactionEnds.put("stuck", Long.MAX_VALUE);

        GracefulShutdown.Result result = shutdown(WAIT, TIMEOUT).run();

        assertThat(events).containsExactly(
                "unhealthy at 0",
                "stopped accepting at 2000",
                "closed idle at 2000",
                "closed committing at 2300",
                "cut off stuck at 17000");
        assertThat(result).isEqualTo(new GracefulShutdown.Result(3, 1));
        assertThat(result.closedGracefully()).isEqualTo(2);
    }

    @Test
    void shutdownEndsAsSoonAsTheLastSessionHasGone() {
        live.addAll(List.of("a", "b"));
        transactionEnds.put("b", WAIT.plusMillis(500).toNanos());

        GracefulShutdown.Result result = shutdown(WAIT, TIMEOUT).run();

        assertThat(result.closedForcibly()).isZero();
        assertThat(Duration.ofNanos(clock.now)).isLessThan(WAIT.plusSeconds(1));
        assertThat(events).noneMatch(e -> e.startsWith("cut off"));
    }

    @Test
    void zeroDurationsCloseEverythingAtOnce() {
        live.addAll(List.of("idle", "busy"));
        transactionEnds.put("busy", Long.MAX_VALUE);

        GracefulShutdown.Result result = shutdown(Duration.ZERO, Duration.ZERO).run();

        assertThat(events).containsExactly("unhealthy at 0", "stopped accepting at 0", "closed idle at 0",
                "cut off busy at 0");
        assertThat(result).isEqualTo(new GracefulShutdown.Result(2, 1));
    }

    @Test
    void anInterruptCutsTheWaitsShortButEveryStepStillRuns() {
        live.addAll(List.of("busy"));
        transactionEnds.put("busy", Long.MAX_VALUE);
        GracefulShutdown<String> shutdown = new GracefulShutdown<>(new GracefulShutdown.Steps<String>(
                () -> events.add("unhealthy"), () -> events.add("stopped accepting"), () -> List.copyOf(live),
                session -> events.add("asked " + session), session -> {
                    events.add("cut off " + session);
                    live.remove(session);
                }), WAIT, TIMEOUT, new GracefulShutdown.Clock() {
                    @Override
                    public long nanoTime() {
                        return 0;
                    }

                    @Override
                    public void sleep(Duration duration) throws InterruptedException {
                        throw new InterruptedException("second SIGTERM");
                    }
                });

        shutdown.run();

        assertThat(events).containsExactly("unhealthy", "stopped accepting", "asked busy", "cut off busy");
        assertThat(Thread.interrupted()).as("interrupt status kept").isTrue();
    }

    @Test
    void realTimeWithShortDurations() {
        live.add("slow");
        long start = System.nanoTime();
        new GracefulShutdown<>(new GracefulShutdown.Steps<String>(() -> { }, () -> { }, () -> List.copyOf(live),
                session -> { }, live::remove), Duration.ofMillis(100), Duration.ofMillis(200),
                GracefulShutdown.Clock.SYSTEM).run();

        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(300), Duration.ofSeconds(3));
        assertThat(live).isEmpty();
    }
}
