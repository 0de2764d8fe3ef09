package io.tiproxy.balance;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.tiproxy.balance.observer.BackendState.DRAINING;
import static io.tiproxy.balance.observer.BackendState.HEALTHY;
import static io.tiproxy.balance.observer.BackendState.UNHEALTHY;
import static org.assertj.core.api.Assertions.assertThat;

/** Where new sessions go: backends no factor would move sessions off, the emptier of two random ones. */
class RoutingTest {
    static final String A = "10.0.0.1:3306";
    static final String B = "10.0.0.2:3306";
    static final String C = "10.0.0.3:3306";

    static FakeCluster cluster(String... backends) {
        FakeCluster c = new FakeCluster();
        for (String b : backends) {
            c.backend(b, HEALTHY);
        }
        c.round();
        return c;
    }

    static Map<String, Integer> route(BackendRouter router, int n, boolean attach) {
        Map<String, Integer> got = new HashMap<>();
        for (int i = 0; i < n; i++) {
            String b = router.select(Set.of());
            got.merge(b, 1, Integer::sum);
            if (attach) {
                router.sessionAttached(b);
            }
        }
        return got;
    }

    @Test
    void sessionsOneAfterAnotherSpreadEvenly() {
        Map<String, Integer> got = route(cluster(A, B, C).router, 300, true);
        assertThat(got.values()).allSatisfy(n -> assertThat(n).isBetween(95, 105));
    }

    @Test
    void aBurstBeforeAnyCountIsUpdatedSpreadsInsteadOfPilingOnOneBackend() {
        // e.g. 300 handshakes in flight at once: none has attached yet, every count still reads 0
        Map<String, Integer> got = route(cluster(A, B, C).router, 300, false);
        assertThat(got).hasSize(3);
        assertThat(got.values()).allSatisfy(n -> assertThat(n).isGreaterThan(50));
    }

    @Test
    void onlyBackendsTakingSessionsAndNotExcludedAreChosen() {
        FakeCluster c = cluster(A, B, C);
        c.backend(B, DRAINING);
        c.backend(C, UNHEALTHY);
        assertThat(route(c.router, 20, true)).containsOnlyKeys(A);
        assertThat(c.router.select(Set.of(A))).isNull();
        assertThat(c.router.unavailableReason()).contains(B + " is draining").contains(C + " is unhealthy");
    }

    @Test
    void aBackendOnProbationGetsNewSessionsOnlyWhenNoOtherCan() {
        // no rebalancing (conn-count rate 0): only routing is watched
        FakeCluster c = new FakeCluster(new BalanceSettings(FactorOrder.LOCATION, 32, 0, "", 1, Duration.ofSeconds(2),
                8, 2, 2, 1.2, 3, 0));
        c.backend(A, HEALTHY);
        c.backend(B, HEALTHY);
        c.round();
        c.backend(B, UNHEALTHY);
        c.run(Duration.ofSeconds(1));
        c.backend(B, HEALTHY);
        c.round();
        assertThat(route(c.router, 30, true)).containsOnlyKeys(A);
        assertThat(c.router.select(Set.of(A))).isEqualTo(B);
        c.open(A, 30); // the sessions just routed, now logged in
        c.run(Duration.ofSeconds(6));
        assertThat(route(c.router, 10, false)).as("settled, and 30 sessions fewer").containsOnlyKeys(B);
    }

    @Test
    void aBusyBackendGetsNoNewSessions() {
        FakeCluster c = cluster(A, B, C);
        c.router.reportLoad(A, 25);
        c.router.reportLoad(B, 0);
        c.router.reportLoad(C, 1);
        assertThat(route(c.router, 60, true)).containsOnlyKeys(B, C);
    }

    @Test
    void aJoiningBackendTakesNewSessionsUntilItIsNearTheOthers() {
        FakeCluster c = cluster(A, B);
        c.open(A, 100);
        c.open(B, 100);
        c.backend(C, HEALTHY);
        c.router.round();
        Map<String, Integer> first = route(c.router, 50, true);
        assertThat(first).containsOnlyKeys(C);
        Map<String, Integer> next = route(c.router, 150, true);
        assertThat(next).containsKeys(A, B, C);
        List<Integer> totals = List.of(c.router.sessionCount(A), c.router.sessionCount(B), c.router.sessionCount(C));
        assertThat(totals).allSatisfy(n -> assertThat(n).isBetween(130, 136));
    }
}
