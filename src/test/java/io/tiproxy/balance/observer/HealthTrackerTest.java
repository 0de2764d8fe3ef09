package io.tiproxy.balance.observer;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class HealthTrackerTest {
    private static final HealthResult OK = HealthResult.ok();
    private static final HealthResult BAD = HealthResult.failed("connection refused");

    @Test
    void newBackendIsHealthyAfterItsFirstGoodCheckEvenWithRecoverThreshold() {
        HealthTracker tracker = new HealthTracker(2, 3);
        assertThat(tracker.healthy()).isFalse();
        assertThat(tracker.reason()).isEqualTo(HealthTracker.NOT_CHECKED);
        tracker.record(BAD);
        assertThat(tracker.healthy()).isFalse();
        assertThat(tracker.reason()).isEqualTo("connection refused");
        tracker.record(OK);
        assertThat(tracker.healthy()).isTrue();
        assertThat(tracker.reason()).isEmpty();
    }

    @Test
    void turnsUnhealthyOnlyAfterFailThresholdFailuresInARow() {
        HealthTracker tracker = new HealthTracker(3, 1);
        tracker.record(OK);
        tracker.record(BAD);
        tracker.record(BAD);
        tracker.record(OK); // resets the count
        tracker.record(BAD);
        tracker.record(BAD);
        assertThat(tracker.healthy()).isTrue();
        tracker.record(BAD);
        assertThat(tracker.healthy()).isFalse();
        assertThat(tracker.reason()).isEqualTo("connection refused");
    }

    @Test
    void recoversOnlyAfterRecoverThresholdSuccessesInARow() {
        HealthTracker tracker = new HealthTracker(1, 2);
        tracker.record(OK);
        tracker.record(BAD);
        assertThat(tracker.healthy()).isFalse();
        tracker.record(OK);
        assertThat(tracker.healthy()).isFalse();
        tracker.record(BAD);
        tracker.record(OK);
        assertThat(tracker.healthy()).isFalse();
        tracker.record(OK);
        assertThat(tracker.healthy()).isTrue();
    }

    @Test
    void newThresholdsJudgeTheNextResultAndKeepTheCountSoFar() {
        HealthTracker tracker = new HealthTracker(5, 3);
        tracker.record(OK);
        tracker.record(BAD);
        tracker.record(BAD);
        tracker.thresholds(2, 1);
        assertThat(tracker.healthy()).as("not at once").isTrue();
        tracker.record(BAD);
        assertThat(tracker.healthy()).as("3 failures in a row >= the new threshold 2").isFalse();
        tracker.record(OK);
        assertThat(tracker.healthy()).as("recover threshold 1").isTrue();
    }

    @Test
    void assumeHealthyMakesAFailingBackendHealthyAndStartsTheCountsOver() {
        HealthTracker tracker = new HealthTracker(2, 2);
        tracker.record(BAD);
        assertThat(tracker.healthy()).isFalse();
        tracker.assumeHealthy();
        assertThat(tracker.healthy()).isTrue();
        assertThat(tracker.reason()).isEmpty();
        tracker.record(BAD);
        assertThat(tracker.healthy()).as("one failure of two").isTrue();
        tracker.record(BAD);
        assertThat(tracker.healthy()).isFalse();
    }

    @Test
    void alwaysHealthyTrackerStartsHealthy() {
        assertThat(HealthTracker.alwaysHealthy().healthy()).isTrue();
    }
}
