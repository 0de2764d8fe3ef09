package io.tiproxy.balance;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiPredicate;

/**
 * The ordered factors of {@link BalanceSettings} and the one rule that combines them (TiProxy's
 * FactorBasedBalance): for a pair of backends, ask the factors in order; the first that tells them
 * apart decides ({@link Advice#POSITIVE}: move from the first to the second at that factor's rate;
 * {@link Advice#NEGATIVE}: never, whatever later factors say); none does: {@link Advice#NEUTRAL}.
 * So sessions never move to a busier backend to even out counts, nor out of the proxy's zone to
 * even out load under the {@code location} order. Immutable; built anew when the settings change.
 */
final class FactorBasedPolicy {

    /** The verdict on one pair: the deciding factor (null when neutral) and what it says. */
    record Verdict(Factor factor, Advice advice) {
        static final Verdict NEUTRAL = new Verdict(null, Advice.NEUTRAL);

        boolean moves() {
            return advice == Advice.POSITIVE;
        }
    }

    /** Sources a factor is already moving sessions off (hysteresis); none for a fresh judgement. */
    static final BiPredicate<Factor, String> NONE_ACTIVE = (factor, address) -> false;

    private final List<Factor> factors;

    FactorBasedPolicy(List<Factor> factors) {
        this.factors = List.copyOf(factors);
    }

    static FactorBasedPolicy of(BalanceSettings s) {
        List<Factor> factors = new ArrayList<>();
        for (String name : s.order().factorNames()) {
            factors.add(switch (name) {
                case StatusFactor.NAME -> new StatusFactor(s.statusRate());
                case LocationFactor.NAME -> new LocationFactor(s.zone(), s.locationRate());
                case LoadFactor.NAME -> new LoadFactor(s.loadBusyThreads(), s.loadRatio(), s.loadRate());
                case SessionCountFactor.NAME -> new SessionCountFactor(s.connRatio(), s.connMinGap(), s.connRate());
                default -> throw new IllegalStateException("no factor named " + name);
            });
        }
        return new FactorBasedPolicy(factors);
    }

    List<Factor> factors() {
        return factors;
    }

    /**
     * Whether sessions should move from {@code from} to {@code to}, and for which factor.
     *
     * @param active whether a factor is already moving sessions off a source (then its weaker
     *               {@link Factor#worthContinuing} test applies)
     */
    Verdict judge(BackendView from, BackendView to, BiPredicate<Factor, String> active) {
        for (Factor f : factors) {
            boolean forward = f.worthStarting(from, to)
                    || active.test(f, from.address()) && f.worthContinuing(from, to);
            if (forward) {
                return new Verdict(f, Advice.POSITIVE);
            }
            if (f.worthStarting(to, from)) {
                return new Verdict(f, Advice.NEGATIVE);
            }
        }
        return Verdict.NEUTRAL;
    }

    /**
     * The backends new sessions may go to: among {@code accepting}, those no factor would start moving
     * sessions off toward another of them (TiProxy's prefer-idle routing). Never empty when
     * {@code accepting} is not: if every backend had a better one (factors that disagree in a cycle), all stay.
     */
    List<BackendView> routable(List<BackendView> accepting) {
        List<BackendView> out = new ArrayList<>(accepting.size());
        for (BackendView b : accepting) {
            boolean leaves = false;
            for (BackendView other : accepting) {
                if (other != b && judge(b, other, NONE_ACTIVE).moves()) {
                    leaves = true;
                    break;
                }
            }
            if (!leaves) {
                out.add(b);
            }
        }
        return out.isEmpty() ? accepting : out;
    }

    /**
     * Whether {@code a} is a better target than {@code b}: asked as a move would be, so the first factor
     * that would start moving sessions from one of them to the other prefers the other; when none would,
     * the one with fewer sessions (then the lower address). Raw scores are not compared: a difference no
     * factor acts on (a load of 1 against 0, a sample that is seconds old) must not send every move of a
     * round, or of a whole fast drain, to the same backend (pingcap/tiproxy#549).
     */
    boolean betterTarget(BackendView a, BackendView b) {
        Verdict v = judge(b, a, NONE_ACTIVE);
        if (v.advice() != Advice.NEUTRAL) {
            return v.moves();
        }
        if (a.sessions() != b.sessions()) {
            return a.sessions() < b.sessions();
        }
        return a.address().compareTo(b.address()) < 0;
    }

    /** Every factor's score of {@code backend}, by factor name, in the policy's order. */
    Map<String, Integer> scores(BackendView backend) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (Factor f : factors) {
            out.put(f.name(), f.score(backend));
        }
        return out;
    }
}
