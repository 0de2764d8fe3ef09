package io.tiproxy.balance;

import io.tiproxy.balance.observer.BackendState;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static io.tiproxy.balance.FactorBasedPolicy.NONE_ACTIVE;
import static org.assertj.core.api.Assertions.assertThat;

/** The ordered factors and the rule that the first factor telling two backends apart decides. */
class FactorBasedPolicyTest {
    static final FactorBasedPolicy LOCATION_FIRST = FactorBasedPolicy.of(BalanceSettings.defaults().withZone("east"));
    static final FactorBasedPolicy RESOURCE_FIRST = FactorBasedPolicy.of(
            BalanceSettings.defaults().withZone("east").withOrder(FactorOrder.RESOURCE));

    static BackendView backend(String address, int sessions, String zone, double load) {
        return new BackendView(address, BackendState.HEALTHY, sessions, zone == null ? Map.of() : Map.of("zone", zone),
                load, true, 0);
    }

    static String decider(FactorBasedPolicy p, BackendView from, BackendView to) {
        FactorBasedPolicy.Verdict v = p.judge(from, to, NONE_ACTIVE);
        return v.factor() == null ? "none" : v.factor().name() + ":" + v.advice();
    }

    @Test
    void factorsAreAskedInThePolicysOrder() {
        assertThat(LOCATION_FIRST.factors()).extracting(Factor::name).containsExactly("status", "location", "load", "conn");
        assertThat(RESOURCE_FIRST.factors()).extracting(Factor::name).containsExactly("status", "load", "location", "conn");
        assertThat(FactorBasedPolicy.of(BalanceSettings.defaults().withOrder(FactorOrder.CONNECTION)).factors())
                .extracting(Factor::name).containsExactly("status", "conn");
    }

    @Test
    void statusDecidesFirst() {
        BackendView draining = new BackendView("a", BackendState.DRAINING, 1, Map.of("zone", "east"), 0, true, 1);
        BackendView busyRemote = backend("b", 500, "west", 100);
        assertThat(decider(LOCATION_FIRST, draining, busyRemote)).isEqualTo("status:POSITIVE");
        assertThat(decider(LOCATION_FIRST, busyRemote, draining)).isEqualTo("status:NEGATIVE");
    }

    @Test
    void theFirstFactorThatTellsBackendsApartDecidesAndLaterOnesAreNotAsked() {
        BackendView localFull = backend("a", 100, "east", 10);
        BackendView remoteEmpty = backend("b", 0, "west", 0);
        // location first: never move sessions out of the zone to even counts or load
        assertThat(decider(LOCATION_FIRST, localFull, remoteEmpty)).isEqualTo("location:NEGATIVE");
        assertThat(decider(LOCATION_FIRST, remoteEmpty, localFull)).isEqualTo("location:POSITIVE");
        // resource first: a busy local backend sheds to an idle remote one
        assertThat(decider(RESOURCE_FIRST, localFull, remoteEmpty)).isEqualTo("load:POSITIVE");
    }

    @Test
    void sessionCountNeverMovesSessionsOntoABusierBackend() {
        BackendView fullIdle = backend("a", 100, null, 1);
        BackendView emptyBusy = backend("b", 10, null, 20);
        assertThat(decider(LOCATION_FIRST, fullIdle, emptyBusy)).isEqualTo("load:NEGATIVE");
        assertThat(decider(LOCATION_FIRST, emptyBusy, fullIdle)).isEqualTo("load:POSITIVE");
    }

    @Test
    void smallLoadDifferencesAndUnknownLoadAreNeutral() {
        assertThat(decider(LOCATION_FIRST, backend("a", 100, null, 6), backend("b", 10, null, 0)))
                .as("not busy yet: session count decides").isEqualTo("conn:POSITIVE");
        assertThat(decider(LOCATION_FIRST, backend("a", 100, null, 12), backend("b", 10, null, 7)))
                .as("busy but not twice the other's load + 1").isEqualTo("conn:POSITIVE");
        assertThat(decider(LOCATION_FIRST, backend("a", 100, null, 50), backend("b", 10, null, Double.NaN)))
                .as("the target's load is unknown").isEqualTo("conn:POSITIVE");
    }

    @Test
    void sessionCountStartsPastRatioAndGapAndContinuesDownToAGapOfTwo() {
        Factor conn = new SessionCountFactor(1.2, 3, 10);
        assertThat(conn.worthStarting(backend("a", 40, null, 0), backend("b", 37, null, 0))).isFalse();
        assertThat(conn.worthStarting(backend("a", 100, null, 0), backend("b", 82, null, 0))).isTrue();
        assertThat(conn.worthStarting(backend("a", 2, null, 0), backend("b", 0, null, 0))).as("gap 2 < 3").isFalse();
        assertThat(conn.worthStarting(backend("a", 76, null, 0), backend("b", 74, null, 0))).isFalse();
        assertThat(conn.worthContinuing(backend("a", 76, null, 0), backend("b", 74, null, 0))).isTrue();
        assertThat(conn.worthContinuing(backend("a", 75, null, 0), backend("b", 74, null, 0))).isFalse();
        // the policy applies the weaker test only to a source already being evened out
        BackendView a = backend("a", 76, null, 0);
        BackendView b = backend("b", 74, null, 0);
        assertThat(LOCATION_FIRST.judge(a, b, NONE_ACTIVE).moves()).isFalse();
        assertThat(LOCATION_FIRST.judge(a, b, (f, addr) -> f.name().equals("conn") && addr.equals("a")).moves()).isTrue();
    }

    @Test
    void loadStartsWhenBusyAndContinuesWithHalfTheMargins() {
        Factor load = new LoadFactor(8, 2.0, 2);
        assertThat(load.worthStarting(backend("a", 0, null, 8), backend("b", 0, null, 3))).isTrue();
        assertThat(load.worthStarting(backend("a", 0, null, 7), backend("b", 0, null, 0))).isFalse();
        assertThat(load.worthContinuing(backend("a", 0, null, 6), backend("b", 0, null, 3))).isTrue();
        assertThat(load.worthContinuing(backend("a", 0, null, 5), backend("b", 0, null, 3))).isFalse();
    }

    @Test
    void backendsWithoutLabelsOrAProxyWithoutZoneAreLocal() {
        LocationFactor zoned = new LocationFactor("east", 1);
        assertThat(zoned.local(backend("a", 0, null, 0))).isTrue();
        assertThat(zoned.local(backend("a", 0, "east", 0))).isTrue();
        assertThat(zoned.local(backend("a", 0, "west", 0))).isFalse();
        assertThat(new LocationFactor("", 1).local(backend("a", 0, "west", 0))).isTrue();
    }

    @Test
    void routableBackendsAreThoseNoFactorWouldMoveSessionsOff() {
        List<BackendView> even = List.of(backend("a", 100, null, 0), backend("b", 103, null, 0), backend("c", 98, null, 0));
        assertThat(LOCATION_FIRST.routable(even)).hasSize(3);
        List<BackendView> joined = List.of(backend("a", 100, null, 0), backend("b", 100, null, 0), backend("d", 0, null, 0));
        assertThat(LOCATION_FIRST.routable(joined)).extracting(BackendView::address).containsExactly("d");
        List<BackendView> oneBusy = List.of(backend("a", 10, null, 30), backend("b", 10, null, 2), backend("c", 11, null, 1));
        assertThat(LOCATION_FIRST.routable(oneBusy)).extracting(BackendView::address).containsExactly("b", "c");
        List<BackendView> zoned = List.of(backend("a", 100, "east", 0), backend("b", 0, "west", 0));
        assertThat(LOCATION_FIRST.routable(zoned)).extracting(BackendView::address).containsExactly("a");
    }

    @Test
    void statusPaceIsTheLeavingSessionsOverOneSecondAndAtLeastTen() {
        Factor status = new StatusFactor(0);
        BackendView leaving = new BackendView("a", BackendState.DRAINING, 120, Map.of(), Double.NaN, false, 400);
        assertThat(status.migrationsPerSecond(List.of(leaving, backend("b", 0, null, 0)))).isEqualTo(400.0);
        assertThat(status.migrationsPerSecond(List.of(backend("b", 5, null, 0)))).isEqualTo(10.0);
        assertThat(new StatusFactor(3).migrationsPerSecond(List.of(leaving))).isEqualTo(3.0);
    }
}
