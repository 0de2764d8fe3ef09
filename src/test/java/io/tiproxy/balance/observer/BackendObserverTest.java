package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

import static io.tiproxy.balance.observer.BackendState.DRAINING;
import static io.tiproxy.balance.observer.BackendState.HEALTHY;
import static io.tiproxy.balance.observer.BackendState.REMOVED;
import static io.tiproxy.balance.observer.BackendState.UNHEALTHY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The observer's state machine with a hand-driven source and checker (no network). */
class BackendObserverTest {
    private static final String A = "10.0.0.1:4000";
    private static final String B = "10.0.0.2:4000";
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final HealthResult BAD = HealthResult.failed("connection refused");

    private final FakeBackendSource source = new FakeBackendSource();
    private final FakeHealthChecker checker = new FakeHealthChecker();
    private final EventRecorder recorder = new EventRecorder();
    private BackendObserver observer;

    @AfterEach
    void closeObserver() {
        if (observer != null) {
            observer.close();
        }
    }

    private BackendObserver start(Duration interval, int fail, int recover, Duration removedRetention) {
        ObserverSettings settings = new ObserverSettings(interval, Duration.ofSeconds(1), fail, recover, "", "");
        observer = new BackendObserver(source, checker, settings, removedRetention, Clock.systemUTC());
        observer.subscribe(recorder);
        observer.start();
        return observer;
    }

    private BackendObserver start() {
        return start(Duration.ofMillis(20), 2, 1, Duration.ofMinutes(1));
    }

    private void awaitState(String address, BackendState state) {
        await().atMost(WAIT).until(() -> recorder.lastIs(address, state));
    }

    @Test
    void newBackendIsUnhealthyUntilItsFirstGoodCheck() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        List<BackendEvent> events = recorder.of(A);
        assertThat(events.get(0).previous()).isNull();
        assertThat(events.get(0).current().state()).isEqualTo(UNHEALTHY);
        assertThat(events.get(0).current().reason()).isEqualTo("not checked yet");
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY);
        assertThat(observer.snapshot().get(A).reason()).isEmpty();
        assertThat(observer.healthyBackends()).extracting(BackendInfo::address).containsExactly(A);
    }

    @Test
    void withChecksDisabledABackendIsHealthyAtOnce() {
        start(Duration.ZERO, 2, 1, Duration.ofMinutes(1));
        source.set(A);
        awaitState(A, HEALTHY);
        assertThat(recorder.states(A)).containsExactly(HEALTHY);
        assertThat(checker.calls(A)).isZero();
    }

    @Test
    void aNewBackendThatFailsStaysUnhealthyWithTheFailureAsReason() {
        checker.answer(A, BAD);
        start();
        source.set(A);
        await().atMost(WAIT).until(() -> checker.calls(A) >= 3);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY);
        assertThat(observer.snapshot().get(A).reason()).isEqualTo("connection refused");
    }

    @Test
    void turnsUnhealthyAfterFailThresholdAndRecoversAfterRecoverThreshold() {
        start(Duration.ofMillis(20), 3, 2, Duration.ofMinutes(1));
        source.set(A);
        awaitState(A, HEALTHY);
        int before = checker.calls(A);
        checker.answer(A, BAD);
        awaitState(A, UNHEALTHY);
        assertThat(checker.calls(A) - before).as("checks until unhealthy").isGreaterThanOrEqualTo(3);
        assertThat(observer.snapshot().get(A).reason()).isEqualTo("connection refused");
        before = checker.calls(A);
        checker.answer(A, HealthResult.ok());
        awaitState(A, HEALTHY);
        assertThat(checker.calls(A) - before).as("checks until recovered").isGreaterThanOrEqualTo(2);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, UNHEALTHY, HEALTHY);
    }

    @Test
    void drainAndUndrainReturnToWhatHealthSays() {
        start();
        source.set(A, B);
        awaitState(A, HEALTHY);
        checker.answer(B, BAD);
        awaitState(B, UNHEALTHY);

        assertThat(observer.drain(A, "maintenance")).isTrue();
        assertThat(observer.snapshot().get(A).state()).isEqualTo(DRAINING); // drain returns after the change
        assertThat(observer.snapshot().get(A).reason()).isEqualTo("maintenance");
        assertThat(observer.drain(B, "")).isTrue();
        assertThat(observer.snapshot().get(B).reason()).isEqualTo(BackendObserver.DRAINED_BY_OPERATOR);
        assertThat(observer.healthyBackends()).isEmpty();

        int calls = checker.calls(B);
        checker.answer(B, HealthResult.ok()); // health changes under a drain: no event, still DRAINING
        await().atMost(WAIT).until(() -> checker.calls(B) > calls + 3);
        assertThat(observer.snapshot().get(B).state()).isEqualTo(DRAINING);

        assertThat(observer.undrain(A)).isTrue();
        assertThat(observer.snapshot().get(A).state()).isEqualTo(HEALTHY);
        int calls2 = checker.calls(B);
        checker.answer(B, BAD);
        await().atMost(WAIT).until(() -> checker.calls(B) > calls2 + 3);
        assertThat(observer.undrain(B)).isTrue();
        assertThat(observer.snapshot().get(B).state()).isEqualTo(UNHEALTHY);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, DRAINING, HEALTHY);
    }

    @Test
    void drainAndUndrainOfUnknownBackendsReturnFalse() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        assertThat(observer.drain("10.9.9.9:4000", "x")).isFalse();
        assertThat(observer.undrain("10.9.9.9:4000")).isFalse();
        source.set();
        awaitState(A, REMOVED);
        assertThat(observer.drain(A, "x")).as("a removed backend cannot be drained").isFalse();
        assertThat(observer.snapshot()).doesNotContainKey("10.9.9.9:4000");
    }

    @Test
    void failBackendListDrainsListedBackendsAlsoLaterOnesAndUndrainsUnlisted() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        observer.setFailBackendList(List.of(A, B));
        assertThat(observer.snapshot().get(A).state()).isEqualTo(DRAINING);
        assertThat(observer.snapshot().get(A).reason()).isEqualTo(BackendObserver.DRAINED_BY_CONFIG);

        source.set(A, B);
        awaitState(B, DRAINING);
        assertThat(recorder.of(B).get(0).previous()).as("B starts drained: one event from null").isNull();
        assertThat(recorder.states(B)).containsExactly(DRAINING);

        assertThat(observer.drain(A, "operator")).isTrue();
        observer.setFailBackendList(List.of(B));
        assertThat(observer.snapshot().get(A).reason()).as("the operator's drain remains").isEqualTo("operator");
        assertThat(observer.undrain(A)).isTrue();
        assertThat(observer.snapshot().get(A).state()).isEqualTo(HEALTHY);

        observer.setFailBackendList(List.of());
        awaitState(B, HEALTHY);
        assertThat(observer.undrain(B)).isTrue();
    }

    @Test
    void operatorUndrainKeepsABackendListedInFailBackendListDraining() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        observer.setFailBackendList(List.of(A));
        assertThat(observer.undrain(A)).isTrue();
        assertThat(observer.snapshot().get(A).state()).isEqualTo(DRAINING);
        assertThat(observer.snapshot().get(A).reason()).isEqualTo(BackendObserver.DRAINED_BY_CONFIG);
    }

    @Test
    void removedBackendStaysListedForTheRetentionThenVanishesWithoutEvent() {
        start(Duration.ofMillis(20), 2, 1, Duration.ofMillis(400));
        source.set(A, B);
        awaitState(A, HEALTHY);
        source.set(B);
        awaitState(A, REMOVED);
        BackendInfo removed = observer.snapshot().get(A);
        assertThat(removed.state()).isEqualTo(REMOVED);
        assertThat(removed.reason()).isEqualTo(BackendObserver.GONE);
        await().atMost(WAIT).until(() -> !observer.snapshot().containsKey(A));
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, REMOVED);
        assertThat(observer.snapshot()).containsKey(B);
    }

    @Test
    void rediscoveredBackendStartsOverAndKeepsItsDrain() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        source.set();
        awaitState(A, REMOVED);
        source.set(A);
        awaitState(A, HEALTHY);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, REMOVED, UNHEALTHY, HEALTHY);
        assertThat(recorder.of(A).get(3).current().reason()).isEqualTo("not checked yet");

        assertThat(observer.drain(A, "kept")).isTrue();
        source.set();
        awaitState(A, REMOVED);
        source.set(A);
        awaitState(A, DRAINING);
        assertThat(recorder.states(A).subList(5, 9)).as("REMOVED -> DRAINING is illegal: via UNHEALTHY")
                .containsExactly(DRAINING, REMOVED, UNHEALTHY, DRAINING);
    }

    @Test
    void eventsOfAFlappingFleetArriveInOrderOnOneThreadAndChainLegally() {
        start(Duration.ofMillis(5), 1, 1, Duration.ofMinutes(1));
        String[] fleet = {A, B, "10.0.0.3:4000", "10.0.0.4:4000"};
        source.set(fleet);
        long end = System.nanoTime() + Duration.ofMillis(1500).toNanos();
        ThreadLocalRandom random = ThreadLocalRandom.current();
        while (System.nanoTime() < end) {
            String target = fleet[random.nextInt(fleet.length)];
            switch (random.nextInt(5)) {
                case 0 -> checker.answer(target, BAD);
                case 1 -> checker.answer(target, HealthResult.ok());
                case 2 -> observer.drain(target, "chaos");
                case 3 -> observer.undrain(target);
                default -> source.set(random.nextBoolean() ? fleet : new String[] {A, B});
            }
            sleep(3);
        }
        assertThat(recorder.events.size()).isGreaterThan(20);
        assertThat(recorder.threads).containsOnly("backend-observer");
        for (String address : fleet) {
            List<BackendEvent> events = recorder.of(address);
            assertThat(events.get(0).previous()).isNull();
            for (int i = 1; i < events.size(); i++) {
                BackendEvent e = events.get(i);
                BackendInfo before = events.get(i - 1).current();
                // same state entered at the same moment (the reason may have been updated in between, without event)
                assertThat(e.previous().state()).as(address + " event " + i + " follows the one before")
                        .isEqualTo(before.state());
                assertThat(e.previous().since()).isEqualTo(before.since());
                assertThat(e.previous().state().canMoveTo(e.current().state())).isTrue();
            }
        }
    }

    @Test
    void anEventCausedByAListenerReachesEveryoneAfterTheEventThatCausedIt() {
        start();
        observer.subscribe(e -> {
            if (e.current().address().equals(A) && e.current().state() == HEALTHY) {
                observer.drain(A, "drained from a listener"); // runs at once: we are on the observer thread
            }
        });
        EventRecorder last = new EventRecorder();
        observer.subscribe(last);
        source.set(A);
        await().atMost(WAIT).until(() -> last.lastIs(A, DRAINING));
        assertThat(last.states(A)).containsExactly(UNHEALTHY, HEALTHY, DRAINING);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, DRAINING);
    }

    @Test
    void aLateSubscriberFirstHearsOfEveryKnownBackend() {
        start();
        source.set(A, B);
        awaitState(A, HEALTHY);
        awaitState(B, HEALTHY);
        source.set(A);
        awaitState(B, REMOVED);
        EventRecorder late = new EventRecorder();
        observer.subscribe(late);
        await().atMost(WAIT).until(() -> late.events.size() == 1);
        assertThat(late.events.get(0).previous()).isNull();
        assertThat(late.events.get(0).current()).isEqualTo(observer.snapshot().get(A));
    }

    @Test
    void topologyDetailsUpdateTheSnapshotWithoutAnEvent() {
        start();
        source.set(A);
        awaitState(A, HEALTHY);
        source.set(Map.of(A, new DiscoveredBackend(A, 10080, Map.of("zone", "z1"), "v8.5.0")));
        await().atMost(WAIT).until(() -> observer.snapshot().get(A).statusPort() == 10080);
        assertThat(observer.snapshot().get(A).labels()).containsEntry("zone", "z1");
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY);
    }

    @Test
    void closeClosesSourceAndChecker() {
        start();
        observer.close();
        assertThat(source.closed).isTrue();
        assertThat(checker.closed).isTrue();
        assertThat(observer.drain(A, "x")).isFalse();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
