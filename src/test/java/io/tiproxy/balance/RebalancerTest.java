package io.tiproxy.balance;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The balance policy, round by round, with sessions simulated as (id, backend) pairs. */
class RebalancerTest {

    /** A simulated cluster: sessions and the rounds of the rebalancer applied to them. */
    static final class Sim {
        final List<String> healthy = new ArrayList<>();
        final Map<Long, String> sessions = new HashMap<>();
        final Rebalancer rebalancer = Rebalancer.defaults();
        long nextId = 1;
        int totalMoves;

        void add(String backend, int n) {
            for (int i = 0; i < n; i++) {
                sessions.put(nextId++, backend);
            }
        }

        List<Rebalancer.Candidate> candidates() {
            List<Rebalancer.Candidate> out = new ArrayList<>();
            sessions.forEach((id, b) -> {
                if (healthy.contains(b)) {
                    out.add(new Rebalancer.Candidate(id, b));
                }
            });
            return out;
        }

        int round() {
            List<Rebalancer.Candidate> all = candidates();
            List<Rebalancer.Move> moves = rebalancer.plan(healthy, all, all);
            for (Rebalancer.Move m : moves) {
                assertThat(sessions.get(m.id())).isEqualTo(m.from());
                sessions.put(m.id(), m.to());
            }
            totalMoves += moves.size();
            return moves.size();
        }

        int count(String backend) {
            return (int) sessions.values().stream().filter(backend::equals).count();
        }
    }

    @Test
    void aBalancedClusterStaysStill() {
        Sim sim = new Sim();
        sim.healthy.addAll(List.of("a", "b", "c"));
        sim.add("a", 100);
        sim.add("b", 101);
        sim.add("c", 99);
        for (int i = 0; i < 60; i++) {
            assertThat(sim.round()).isZero();
        }
    }

    @Test
    void aFourthBackendReceivesItsShareAtABoundedRate() {
        Sim sim = new Sim();
        sim.healthy.addAll(List.of("a", "b", "c"));
        sim.add("a", 100);
        sim.add("b", 100);
        sim.add("c", 100);
        sim.healthy.add("d");
        int rounds = 0;
        while (sim.round() > 0) {
            rounds++;
            assertThat(rounds).isLessThan(30);
        }
        assertThat(rounds).as("bounded moves per round means several rounds").isGreaterThanOrEqualTo(3);
        for (String b : sim.healthy) {
            assertThat(sim.count(b)).isBetween(60, 90);
        }
        assertThat(sim.totalMoves).as("no more moves than needed").isLessThanOrEqualTo(80);
        // and then it holds still
        for (int i = 0; i < 30; i++) {
            assertThat(sim.round()).isZero();
        }
    }

    @Test
    void unevenClosesAreEvenedOutAndOldestSessionsMoveFirst() {
        Sim sim = new Sim();
        sim.healthy.addAll(List.of("a", "b", "c"));
        sim.add("a", 100);
        sim.add("b", 100);
        sim.add("c", 100);
        sim.sessions.entrySet().removeIf(e -> e.getValue().equals("a") && e.getKey() % 2 == 0 || e.getValue().equals("a") && e.getKey() % 3 == 0);
        int aBefore = sim.count("a");
        List<Rebalancer.Candidate> all = sim.candidates();
        List<Rebalancer.Move> first = sim.rebalancer.plan(sim.healthy, all, all);
        assertThat(first).isNotEmpty();
        long oldestOnB = all.stream().filter(c -> c.backend().equals("b")).mapToLong(Rebalancer.Candidate::id).min().orElseThrow();
        long oldestOnC = all.stream().filter(c -> c.backend().equals("c")).mapToLong(Rebalancer.Candidate::id).min().orElseThrow();
        assertThat(first.get(0).id()).isIn(oldestOnB, oldestOnC);
        assertThat(first).allMatch(m -> m.to().equals("a"));
        while (sim.round() > 0) {
            // keep going
        }
        int avg = (sim.count("a") + sim.count("b") + sim.count("c")) / 3;
        for (String b : sim.healthy) {
            assertThat(Math.abs(sim.count(b) - avg)).isLessThanOrEqualTo(2);
        }
        assertThat(sim.count("a")).isGreaterThan(aBefore);
    }

    @Test
    void sessionsThatCannotMoveNowAreLeftAndNothingElseIsMovedInstead() {
        Rebalancer r = Rebalancer.defaults();
        List<Rebalancer.Candidate> all = new ArrayList<>();
        for (long i = 0; i < 50; i++) {
            all.add(new Rebalancer.Candidate(i, "a"));
        }
        List<Rebalancer.Move> moves = r.plan(List.of("a", "b"), all, List.of());
        assertThat(moves).isEmpty();
    }

    @Test
    void aSingleBackendOrNoneNeverMoves() {
        Rebalancer r = Rebalancer.defaults();
        List<Rebalancer.Candidate> all = List.of(new Rebalancer.Candidate(1, "a"), new Rebalancer.Candidate(2, "a"));
        assertThat(r.plan(List.of("a"), all, all)).isEmpty();
        assertThat(r.plan(List.of(), all, all)).isEmpty();
    }

    @Test
    void aBackendTogglingHealthDoesNotMakeTheBalancerShuffleSessions() {
        Sim sim = new Sim();
        sim.healthy.addAll(List.of("a", "b", "c"));
        sim.add("a", 90);
        sim.add("b", 90);
        sim.add("c", 90);
        for (int second = 0; second < 60; second++) {
            if (second % 2 == 0) {
                sim.healthy.remove("c");
            } else if (!sim.healthy.contains("c")) {
                sim.healthy.add("c");
            }
            sim.round();
        }
        // sessions on c are not the balancer's business while c is unhealthy (the router drains them), and
        // counts on the healthy backends stay even: the toggling alone never starts a move
        assertThat(sim.totalMoves).isZero();
    }
}
