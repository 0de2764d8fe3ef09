package io.tiproxy.balance;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static io.tiproxy.balance.observer.BackendState.DRAINING;
import static io.tiproxy.balance.observer.BackendState.HEALTHY;
import static io.tiproxy.balance.observer.BackendState.UNHEALTHY;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The router's rebalancing loop through whole operations, on a simulated cluster with a simulated
 * clock ({@link FakeCluster}): every assertion is about sessions asked to move and where they end up.
 */
class RebalanceScenariosTest {
    static final String A = "10.0.0.1:3306";
    static final String B = "10.0.0.2:3306";
    static final String C = "10.0.0.3:3306";
    static final String D = "10.0.0.4:3306";

    static FakeCluster threeBackends(int sessionsEach) {
        FakeCluster c = new FakeCluster();
        for (String b : List.of(A, B, C)) {
            c.backend(b, HEALTHY);
            c.open(b, sessionsEach);
        }
        c.run(Duration.ofSeconds(1));
        return c;
    }

    @Test
    void aBalancedClusterStaysStill() {
        FakeCluster c = new FakeCluster();
        c.backend(A, HEALTHY);
        c.backend(B, HEALTHY);
        c.backend(C, HEALTHY);
        c.open(A, 100);
        c.open(B, 103);
        c.open(C, 98);
        c.run(Duration.ofSeconds(120));
        assertThat(c.asked).isEmpty();
    }

    @Test
    void aFourthBackendGetsItsShareAtTheSessionCountRateAndThenAllHoldsStill() {
        FakeCluster c = threeBackends(100);
        c.backend(D, HEALTHY);
        long start = c.now();
        c.run(Duration.ofSeconds(30));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(73, 77));
        assertThat(c.asked).hasSizeBetween(73, 77).allMatch(a -> a.to().equals(D) && a.reason().equals("conn"));
        // conn-count moves 10 a second (a full bucket of 10 to start): never more than 20 in any second
        for (long t = start; t < c.now(); t += 1_000_000_000L) {
            long from = t;
            long inSecond = c.asked.stream().filter(a -> a.atNanos() >= from && a.atNanos() < from + 1_000_000_000L).count();
            assertThat(inSecond).isLessThanOrEqualTo(20);
        }
        assertThat(c.askedTo(A).get(D)).isBetween(23, 27); // taken from all three, not from one
        assertThat(c.askedTo(B).get(D)).isBetween(23, 27);
        int before = c.asked.size();
        c.run(Duration.ofSeconds(60));
        assertThat(c.asked).hasSize(before);
    }

    @Test
    void oldestSessionsMoveFirst() {
        FakeCluster c = threeBackends(100);
        c.backend(D, HEALTHY);
        c.round();
        long oldestOnA = c.sessions.stream().filter(s -> s.id <= 100).mapToLong(s -> s.id).min().orElseThrow();
        assertThat(c.asked.stream().filter(a -> a.from().equals(A)).findFirst().orElseThrow().id()).isEqualTo(oldestOnA);
    }

    @Test
    void unevenClosesAreEvenedOutAndThenItHoldsStill() {
        FakeCluster c = threeBackends(100);
        // 60 of A's sessions close: 40/100/100
        c.sessions.stream().filter(s -> s.backend.equals(A)).limit(60).toList().forEach(c.sessions::remove);
        c.run(Duration.ofSeconds(30));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(79, 81));
        assertThat(c.asked).hasSizeBetween(39, 41);
        assertThat(c.targetsOf(B)).containsExactly(A);
        assertThat(c.targetsOf(C)).containsExactly(A);
        int before = c.asked.size();
        c.run(Duration.ofSeconds(60));
        assertThat(c.asked).hasSize(before);
    }

    @Test
    void rollingRestartOfThreeBackendsSpreadsEachDrainAndBringsSessionsBack() {
        FakeCluster c = threeBackends(100);
        for (String restarting : List.of(A, B, C)) {
            int before = c.asked.size();
            c.backend(restarting, DRAINING);
            c.run(Duration.ofSeconds(10));
            assertThat(c.count(restarting)).as("drained " + restarting).isZero();
            Map<String, Integer> spread = new java.util.HashMap<>();
            c.asked.subList(before, c.asked.size()).forEach(a -> {
                assertThat(a.from()).isEqualTo(restarting);
                assertThat(a.reason()).isEqualTo("status");
                spread.merge(a.to(), 1, Integer::sum);
            });
            assertThat(spread).as("moves spread over both other backends")
                    .hasSize(2).allSatisfy((to, n) -> assertThat(n).isBetween(45, 55));
            c.remove(restarting);                        // shut down, gone from discovery
            c.run(Duration.ofSeconds(2));
            c.backend(restarting, UNHEALTHY);           // back: "not checked yet"
            c.run(Duration.ofSeconds(1));
            c.backend(restarting, HEALTHY);
            c.run(Duration.ofSeconds(4));
            assertThat(c.count(restarting)).as("on probation right after it came back").isZero();
            c.run(Duration.ofSeconds(30));
            assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(98, 102));
            assertThat(c.asked.size() - before).as("moves for one restart").isBetween(195, 205);
        }
        assertThat(c.sessions).hasSize(300).noneMatch(s -> s.closedUnmovable);
    }

    @Test
    void anOperatorsUndrainStartsNoProbation() {
        FakeCluster c = threeBackends(30);
        c.backend(A, DRAINING);
        c.run(Duration.ofSeconds(5));
        assertThat(c.count(A)).isZero();
        c.backend(A, HEALTHY);
        c.round();
        assertThat(c.router.select(java.util.Set.of())).as("the emptiest, and not on probation").isEqualTo(A);
        c.run(Duration.ofSeconds(5));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(29, 31));
    }

    @Test
    void aBackendTogglingHealthEverySecondLosesItsSessionsOnceAndGetsNoneBackUntilSteady() {
        FakeCluster c = threeBackends(90);
        for (int second = 0; second < 60; second++) {
            c.backend(C, second % 2 == 0 ? UNHEALTHY : HEALTHY);
            c.run(Duration.ofSeconds(1));
        }
        assertThat(c.asked.stream().filter(a -> a.to().equals(C))).as("nothing moved to the flapping backend").isEmpty();
        assertThat(c.asked).as("each of C's sessions moved at most once").hasSizeLessThanOrEqualTo(90);
        assertThat(c.count(C)).isZero();
        // steady again: after its probation (at most 5 min) balance brings its share back
        c.backend(C, HEALTHY);
        c.run(Duration.ofMinutes(6));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(89, 91));
        assertThat(c.asked).hasSizeLessThanOrEqualTo(90 + 90);
        assertThat(c.sessions).hasSize(270).noneMatch(s -> s.closedUnmovable);
    }

    @Test
    void oneBriefOutageIsRecoveredFromAfterTheBaseProbation() {
        FakeCluster c = threeBackends(90);
        c.backend(C, UNHEALTHY);
        c.run(Duration.ofSeconds(10));
        assertThat(c.count(C)).isZero();
        c.backend(C, HEALTHY);
        c.run(Duration.ofSeconds(4));
        assertThat(c.count(C)).isZero();
        c.run(Duration.ofSeconds(20));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(89, 91));
    }

    @Test
    void sessionsRebuiltElsewhereAfterTheirBackendDroppedThemAreNotMovedBackAtOnce() {
        FakeCluster c = threeBackends(20);
        // A's server died: its sessions were rebuilt on B and C by the proxy, before any health check noticed
        List<FakeCluster.Session> onA = c.sessions.stream().filter(s -> s.backend.equals(A)).toList();
        for (int i = 0; i < onA.size(); i++) {
            onA.get(i).backend = i % 2 == 0 ? B : C;
        }
        c.run(Duration.ofSeconds(4));
        assertThat(c.asked).as("nothing sent back to a server that just dropped its sessions").isEmpty();
        // still healthy after the probation (it was a network blip): balance brings its share back
        c.run(Duration.ofSeconds(10));
        assertThat(c.counts().values()).allSatisfy(n -> assertThat(n).isBetween(19, 21));
    }

    @Test
    void aSessionWhoseMigrationKeepsFailingBacksOffWhileOthersMove() {
        FakeCluster c = threeBackends(100);
        c.drainTimeout(Duration.ofMinutes(10));
        List<FakeCluster.Session> stuck = c.sessions.stream().filter(s -> s.backend.equals(A)).limit(3).toList();
        stuck.forEach(s -> s.failsToMove = true); // the oldest on A: asked first, never move
        c.backend(A, DRAINING);
        c.run(Duration.ofSeconds(10));
        assertThat(c.count(A)).as("everyone else left").isEqualTo(3);
        c.run(Duration.ofSeconds(50));
        for (FakeCluster.Session s : stuck) {
            assertThat(s.backend).isEqualTo(A);
            // asked at 0 s; no move by 15 s: failed, backs off 5 s; asked at 20 s; failed at 35 s, backs off
            // 10 s; asked at 45 s; failed at 60 s
            assertThat(s.requests).as("requests in 60 s").isEqualTo(3);
        }
        assertThat(c.sessions).hasSize(300);
    }

    /**
     * Two backends under a cap of 8 migrations in flight; A holds 24 old sessions that never move (each
     * marked by {@code stuck}) and 40 younger ones, and starts to drain. Returns the 24.
     */
    static List<FakeCluster.Session> drainPastOldestStuckSessions(FakeCluster c, Consumer<FakeCluster.Session> stuck,
                                                                Duration drainFor) {
        c.drainTimeout(Duration.ofMinutes(10));
        c.backend(A, HEALTHY);
        c.backend(B, HEALTHY);
        List<FakeCluster.Session> oldest = c.open(A, 24); // asked first
        oldest.forEach(s -> {
            s.failsToMove = true;
            stuck.accept(s);
        });
        c.open(A, 40);
        c.run(Duration.ofSeconds(1));
        c.backend(A, DRAINING);
        c.run(drainFor);
        return oldest;
    }

    static BalanceSettings cappedAt8() {
        return new BalanceSettings(FactorOrder.LOCATION, 8, 0, "", 1, Duration.ofSeconds(2), 8, 2, 2, 1.2, 3, 10);
    }

    @Test
    void sessionsThatReportTheyCannotMoveFreeTheirSlotsAtOnceSoTheDrainGoesOn() {
        FakeCluster c = new FakeCluster(cappedAt8());
        // e.g. ed25519 logins; 6 s: well past the automatic pace (64 sessions over 1 s)
        List<FakeCluster.Session> unmovable = drainPastOldestStuckSessions(c, s -> s.reportsFailure = true,
                Duration.ofSeconds(6));
        // without the reports the 8 slots would stay taken by unmovable sessions until the 15 s timeout
        assertThat(c.count(A)).as("only the unmovable sessions are left").isEqualTo(24);
        assertThat(unmovable).allSatisfy(s -> assertThat(s.requests).as("asked, then backing off 5 s").isBetween(1, 2));
    }

    @Test
    void sessionsWaitingForASafePointHoldNoSlotSoLongTransactionsDoNotStallADrain() {
        FakeCluster c = new FakeCluster(cappedAt8());
        List<FakeCluster.Session> inTransactions = drainPastOldestStuckSessions(c, s -> s.reportsWaiting = true,
                Duration.ofSeconds(3));
        // without the reports the 8 slots would stay taken by waiting sessions until the 15 s timeout
        assertThat(c.count(A)).as("only the sessions still in their transactions are left").isEqualTo(24);
        assertThat(inTransactions).allSatisfy(s -> assertThat(s.requests).as("asked once, still waiting").isEqualTo(1));
    }

    @Test
    void sessionsClosingWhileTheyMoveLeaveTheBookkeepingExact() {
        BalanceSettings capped = new BalanceSettings(FactorOrder.LOCATION, 4, 0, "", 1, Duration.ofSeconds(2), 8, 2,
                2, 1.2, 3, 10);
        FakeCluster c = new FakeCluster(capped);
        c.backend(A, HEALTHY);
        c.backend(B, HEALTHY);
        c.open(A, 40);
        c.router.round();
        assertThat(c.asked).hasSize(4); // the cap
        assertThat(c.router.pendingMigrations()).singleElement()
                .satisfies(p -> assertThat(p.count()).isEqualTo(4));
        // all four close before they move, as a client that quits mid-migration does
        c.asked.forEach(a -> c.sessions.removeIf(s -> s.id == a.id()));
        c.round();
        assertThat(c.asked).as("the four slots are free again").hasSize(8);
        assertThat(c.router.pendingMigrations().stream().mapToInt(BackendRouter.Pending::count).sum()).isEqualTo(4);
        // a session that closes right after it landed, and one that closes on its source
        c.round();
        c.sessions.stream().filter(s -> s.backend.equals(B)).findFirst().ifPresent(c.sessions::remove);
        c.sessions.stream().filter(s -> s.backend.equals(A)).findFirst().ifPresent(c.sessions::remove);
        c.run(Duration.ofSeconds(20));
        assertThat(c.router.pendingMigrations()).isEmpty();
        for (String b : List.of(A, B)) {
            assertThat(c.router.sessionCount(b)).as("count of " + b).isEqualTo(c.count(b));
        }
        assertThat(Math.abs(c.count(A) - c.count(B))).isLessThanOrEqualTo(1);
        assertThat(c.count(A) + c.count(B)).isEqualTo(34);
    }

    @Test
    void countsAreRightAgainAfterAnyDriftInTheAttachDetachCalls() {
        FakeCluster c = threeBackends(10);
        c.router.sessionDetached(A); // a double detach, as a session closing after its backend died could do
        c.router.sessionDetached(A);
        assertThat(c.router.sessionCount(A)).isEqualTo(8);
        c.round();
        assertThat(c.router.sessionCount(A)).isEqualTo(10);
    }

    @Test
    void aSessionThatCannotLeaveADrainingBackendIsClosedAfterTheTimeoutButNeverOnAnUnhealthyOne() {
        FakeCluster c = threeBackends(5);
        c.drainTimeout(Duration.ofSeconds(3));
        FakeCluster.Session pinnedOnA = c.sessions.stream().filter(s -> s.backend.equals(A)).findFirst().orElseThrow();
        FakeCluster.Session pinnedOnB = c.sessions.stream().filter(s -> s.backend.equals(B)).findFirst().orElseThrow();
        pinnedOnA.failsToMove = true;
        pinnedOnB.failsToMove = true;
        c.backend(A, DRAINING);
        c.backend(B, UNHEALTHY);
        c.run(Duration.ofSeconds(2));
        assertThat(pinnedOnA.closedUnmovable).isFalse();
        c.run(Duration.ofSeconds(2));
        assertThat(pinnedOnA.closedUnmovable).isTrue();
        c.run(Duration.ofSeconds(60));
        assertThat(pinnedOnB.closedUnmovable).isFalse();
        assertThat(c.count(C)).isEqualTo(13);
    }

    @Test
    void aDrainWithNoOtherBackendClosesStuckSessionsAfterTheTimeout() {
        FakeCluster c = new FakeCluster();
        c.drainTimeout(Duration.ofSeconds(2));
        c.backend(A, HEALTHY);
        c.open(A, 3);
        c.round();
        c.backend(A, DRAINING);
        c.run(Duration.ofSeconds(3));
        assertThat(c.sessions).isEmpty();
        assertThat(c.asked).isEmpty();
    }

    @Test
    void aDrainMovesAsFastAsTheConcurrencyCapAllowsAndEndsInAboutASecond() {
        FakeCluster c = threeBackends(200);
        c.backend(A, DRAINING);
        // the pace allows 200 a second; the cap, 32 in flight, and each move lands before the next round
        c.run(Duration.ofMillis(600));
        assertThat(c.asked).hasSize(3 * 32);
        assertThat(c.count(A)).as("two rounds' moves landed, the third's in flight").isEqualTo(200 - 2 * 32);
        c.run(Duration.ofMillis(1000));
        assertThat(c.count(A)).isZero();
    }

    @Test
    void aConfiguredStatusPaceHoldsADrainBack() {
        FakeCluster c = new FakeCluster(new BalanceSettings(FactorOrder.LOCATION, 32, 20, "", 1, Duration.ofSeconds(2),
                8, 2, 2, 1.2, 3, 10));
        for (String b : List.of(A, B, C)) {
            c.backend(b, HEALTHY);
            c.open(b, 200);
        }
        c.run(Duration.ofSeconds(1));
        c.backend(A, DRAINING);
        c.run(Duration.ofSeconds(3));
        // 20 a second, plus the first second's full bucket
        assertThat(200 - c.count(A)).isBetween(60, 82);
    }

    @Test
    void newSettingsApplyFromTheNextRound() {
        FakeCluster c = threeBackends(100);
        BalanceSettings off = new BalanceSettings(FactorOrder.LOCATION, 32, 0, "", 1, Duration.ofSeconds(2), 8, 2,
                2, 1.2, 3, 0);
        c.router.setSettings(off);
        c.backend(D, HEALTHY);
        c.run(Duration.ofSeconds(10));
        assertThat(c.asked).as("conn-count rate 0: no moves").isEmpty();
        c.router.setSettings(BalanceSettings.defaults());
        c.round();
        assertThat(c.asked).isNotEmpty();
    }

    @Test
    void aRemoteBackendsSessionsMoveToTheLocalZoneAtTheLocationRate() {
        FakeCluster c = new FakeCluster(BalanceSettings.defaults().withZone("east"));
        c.backend(A, HEALTHY, "east");
        c.backend(B, HEALTHY, "west");
        c.open(B, 20);
        c.open(A, 20);
        c.run(Duration.ofSeconds(10));
        assertThat(c.asked).allMatch(a -> a.from().equals(B) && a.to().equals(A) && a.reason().equals("location"));
        assertThat(c.asked).hasSizeBetween(10, 12); // 1 a second
        c.run(Duration.ofSeconds(15));
        assertThat(c.count(B)).isZero();
        assertThat(c.count(A)).isEqualTo(40);
    }

    @Test
    void aBusyBackendShedsSessionsForLoadAndSessionCountNeverMovesThemOntoIt() {
        FakeCluster c = threeBackends(30);
        for (int i = 0; i < 10; i++) {
            c.router.reportLoad(A, 20);
            c.router.reportLoad(B, 1);
            c.router.reportLoad(C, 1);
            c.run(Duration.ofSeconds(1));
        }
        assertThat(c.asked).isNotEmpty().allMatch(a -> a.from().equals(A) && a.reason().equals("load"));
        assertThat(c.asked.size()).isBetween(15, 22); // 2 a second after a full first bucket
        // A has fewer sessions now, but it is still the busiest: session count moves nothing back
        assertThat(c.asked.stream().filter(a -> a.to().equals(A))).isEmpty();
    }

    @Test
    void aDrainSpreadsOverTargetsWhoseLoadDiffersByLessThanTheLoadFactorActsOn() {
        FakeCluster c = threeBackends(100);
        c.backend(A, DRAINING);
        for (int i = 0; i < 10; i++) {
            c.router.reportLoad(B, 1); // a statement or two running: below busy-threads, no reason to prefer C
            c.router.reportLoad(C, 0);
            c.run(Duration.ofSeconds(1));
        }
        assertThat(c.count(A)).isZero();
        assertThat(c.askedTo(A)).as("A's sessions spread over both targets")
                .hasSize(2).allSatisfy((to, n) -> assertThat(n).isBetween(45, 55));
    }

    @Test
    void loadSamplesThatStopComingStopMovingSessions() {
        FakeCluster c = threeBackends(30);
        c.router.reportLoad(A, 50); // one round of samples, then none: stale after 6 s
        c.router.reportLoad(B, 1);
        c.router.reportLoad(C, 1);
        c.run(Duration.ofSeconds(10));
        long early = c.askedFor("load");
        assertThat(early).isBetween(8L, 16L);
        c.run(Duration.ofSeconds(30));
        assertThat(c.askedFor("load")).isEqualTo(early);
        assertThat(c.router.factorScores().get(A)).containsEntry("load", 0);
    }

    @Test
    void unknownLoadIsNeutral() {
        FakeCluster c = threeBackends(30);
        c.router.reportLoad(A, 50); // only A is sampled (the others are, say, TiDB)
        c.run(Duration.ofSeconds(5));
        assertThat(c.asked).isEmpty();
    }

    @Test
    void scoresArePublishedPerFactorAndBackend() {
        FakeCluster c = threeBackends(7);
        c.backend(B, DRAINING);
        c.round();
        assertThat(c.router.factorScores().get(A)).containsOnlyKeys("status", "location", "load", "conn")
                .containsEntry("status", 0);
        assertThat(c.router.factorScores().get(B)).containsEntry("status", 1);
    }
}
