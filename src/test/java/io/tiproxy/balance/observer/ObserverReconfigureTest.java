package io.tiproxy.balance.observer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static io.tiproxy.balance.observer.BackendState.DRAINING;
import static io.tiproxy.balance.observer.BackendState.HEALTHY;
import static io.tiproxy.balance.observer.BackendState.UNHEALTHY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link BackendObserver#updateSettings}: what a reload of {@code health-check.*} does to a running
 * observer, with a hand-driven source and checker. ReloadableKeys promises "from each backend's next check".
 */
class ObserverReconfigureTest {
    private static final String A = "10.0.0.1:4000";
    private static final String B = "10.0.0.2:4000";
    private static final Duration WAIT = Duration.ofSeconds(5);
    private static final Duration HOUR = Duration.ofHours(1);
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

    private static ObserverSettings settings(Duration interval, int fail, int recover) {
        return new ObserverSettings(interval, Duration.ofSeconds(1), fail, recover, "", "");
    }

    private void start(ObserverSettings settings, String... backends) {
        observer = new BackendObserver(source, checker, settings);
        observer.subscribe(recorder);
        observer.start();
        source.set(backends);
    }

    private void awaitState(String address, BackendState state) {
        await().atMost(WAIT).until(() -> recorder.lastIs(address, state));
    }

    @Test
    void aShorterIntervalReplacesTheCheckAlreadyScheduledWithTheLongOne() {
        start(settings(HOUR, 1, 1), A);
        awaitState(A, HEALTHY);
        assertThat(checker.calls(A)).as("the first check, then one an hour away").isEqualTo(1);

        observer.updateSettings(settings(Duration.ofMillis(20), 1, 1));
        await().atMost(WAIT).until(() -> checker.calls(A) >= 5);
        assertThat(observer.settings().interval()).isEqualTo(Duration.ofMillis(20));
        assertThat(checker.reconfigured).as("the checker hears of the new settings too")
                .isEqualTo(settings(Duration.ofMillis(20), 1, 1));

        observer.updateSettings(settings(HOUR, 1, 1));
        int settled = checker.calls(A) + 1; // at most one check was already under way
        sleep(300);
        assertThat(checker.calls(A)).as("back to one check an hour").isLessThanOrEqualTo(settled);
    }

    @Test
    void newThresholdsApplyToTheNextCheckOfABackendAlreadyFailing() {
        start(settings(Duration.ofMillis(20), 1000, 1), A);
        awaitState(A, HEALTHY);
        checker.answer(A, BAD);
        int before = checker.calls(A);
        await().atMost(WAIT).until(() -> checker.calls(A) > before + 10);
        assertThat(observer.snapshot().get(A).state()).as("1000 failures needed").isEqualTo(HEALTHY);

        observer.updateSettings(settings(Duration.ofMillis(20), 2, 1000));
        awaitState(A, UNHEALTHY);
        assertThat(observer.snapshot().get(A).reason()).isEqualTo("connection refused");

        checker.answer(A, HealthResult.ok());
        int good = checker.calls(A);
        await().atMost(WAIT).until(() -> checker.calls(A) > good + 10);
        assertThat(observer.snapshot().get(A).state()).as("1000 good checks needed now").isEqualTo(UNHEALTHY);
        observer.updateSettings(settings(Duration.ofMillis(20), 2, 1));
        awaitState(A, HEALTHY);
        assertThat(recorder.states(A)).containsExactly(UNHEALTHY, HEALTHY, UNHEALTHY, HEALTHY);
    }

    @Test
    void turningChecksOffMakesEveryBackendHealthyAndTurningThemOnChecksAgain() {
        checker.answer(B, BAD);
        start(settings(Duration.ofMillis(20), 1, 1), A, B);
        awaitState(A, HEALTHY);
        await().atMost(WAIT).until(() -> checker.calls(B) >= 2);
        observer.drain(A, "maintenance");

        observer.updateSettings(settings(Duration.ZERO, 1, 1));
        assertThat(observer.snapshot().get(B).state()).as("at once: updateSettings returns after the change")
                .isEqualTo(HEALTHY);
        assertThat(observer.snapshot().get(A).state()).as("a drain stays").isEqualTo(DRAINING);
        int callsWhenOff = checker.calls(B) + 1; // at most one check was already under way
        sleep(300);
        assertThat(checker.calls(B)).as("no checks while off").isLessThanOrEqualTo(callsWhenOff);
        assertThat(observer.snapshot().get(B).state()).isEqualTo(HEALTHY);

        observer.updateSettings(settings(Duration.ofMillis(20), 1, 1));
        awaitState(B, UNHEALTHY);
        assertThat(checker.calls(B)).isGreaterThan(callsWhenOff);
        assertThat(recorder.states(B)).containsExactly(UNHEALTHY, HEALTHY, UNHEALTHY);
        assertThat(observer.undrain(A)).isTrue();
        assertThat(observer.snapshot().get(A).state()).isEqualTo(HEALTHY);
    }

    @Test
    void aBackendDiscoveredAfterTheReloadGetsTheNewSettings() {
        start(settings(Duration.ZERO, 1, 1), A);
        awaitState(A, HEALTHY);
        assertThat(checker.calls(A)).isZero();
        observer.updateSettings(settings(Duration.ofMillis(20), 3, 1));
        checker.answer(B, BAD);
        source.set(A, B);
        await().atMost(WAIT).until(() -> checker.calls(B) >= 5);
        assertThat(recorder.states(B)).as("checked, never passed").containsExactly(UNHEALTHY);
        assertThat(checker.calls(A)).as("A is checked now too").isPositive();
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
