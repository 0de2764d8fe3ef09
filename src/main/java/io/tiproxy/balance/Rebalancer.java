package io.tiproxy.balance;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decides which sessions move to even out the session count across healthy backends. Pure logic, no
 * clock of its own, so it is tested deterministically.
 *
 * <p>Hysteresis: moving starts only when the busiest backend holds more than {@code startRatio} times the
 * average (and at least {@code minGap} more than the idlest), and stops once it is within one session of
 * the average: a balanced cluster stays still. Oldest sessions move first; each round moves at most
 * {@code maxMovesPerRound}, each to whichever backend is idlest at that moment, so moves spread over
 * several targets instead of piling onto one.
 */
public final class Rebalancer {

    /** A session that could move. */
    public record Candidate(long id, String backend) {}

    /** Move session {@code id} from {@code from} to {@code to}. */
    public record Move(long id, String from, String to) {}

    private final double startRatio;
    private final int minGap;
    private final int maxMovesPerRound;
    /** Backends currently being evened out (hysteresis state). */
    private boolean active;

    public Rebalancer(double startRatio, int minGap, int maxMovesPerRound) {
        this.startRatio = startRatio;
        this.minGap = minGap;
        this.maxMovesPerRound = maxMovesPerRound;
    }

    public static Rebalancer defaults() {
        return new Rebalancer(1.2, 3, 20);
    }

    /**
     * @param healthy    backends that take sessions (only these count)
     * @param sessions   every session on a healthy backend
     * @param movable    sessions allowed to move now (not moved recently, not busy migrating)
     */
    public List<Move> plan(List<String> healthy, List<Candidate> sessions, List<Candidate> movable) {
        List<Move> moves = new ArrayList<>();
        if (healthy.size() < 2) {
            active = false;
            return moves;
        }
        Map<String, Integer> counts = new HashMap<>();
        healthy.forEach(b -> counts.put(b, 0));
        for (Candidate c : sessions) {
            counts.computeIfPresent(c.backend(), (k, v) -> v + 1);
        }
        int total = counts.values().stream().mapToInt(Integer::intValue).sum();
        double avg = (double) total / healthy.size();
        String busiest = busiest(counts);
        String idlest = idlest(counts);
        int gap = counts.get(busiest) - counts.get(idlest);
        if (!active) {
            active = counts.get(busiest) > avg * startRatio && gap >= minGap;
        }
        if (!active) {
            return moves;
        }
        Map<String, List<Candidate>> byBackend = new HashMap<>();
        movable.stream().sorted(Comparator.comparingLong(Candidate::id))
                .forEach(c -> byBackend.computeIfAbsent(c.backend(), k -> new ArrayList<>()).add(c));
        while (moves.size() < maxMovesPerRound) {
            busiest = busiest(counts);
            idlest = idlest(counts);
            if (counts.get(busiest) <= Math.ceil(avg) || counts.get(busiest) - counts.get(idlest) <= 1) {
                active = false; // balanced: stop until the start threshold is crossed again
                break;
            }
            List<Candidate> list = byBackend.getOrDefault(busiest, List.of());
            if (list.isEmpty()) {
                break; // the busiest backend's sessions cannot move now; try next round
            }
            Candidate c = list.remove(0);
            moves.add(new Move(c.id(), busiest, idlest));
            counts.merge(busiest, -1, Integer::sum);
            counts.merge(idlest, 1, Integer::sum);
        }
        return moves;
    }

    private static String busiest(Map<String, Integer> counts) {
        return counts.entrySet().stream().max(Map.Entry.<String, Integer>comparingByValue()
                .thenComparing(Map.Entry.comparingByKey())).orElseThrow().getKey();
    }

    private static String idlest(Map<String, Integer> counts) {
        return counts.entrySet().stream().min(Map.Entry.<String, Integer>comparingByValue()
                .thenComparing(Map.Entry.comparingByKey())).orElseThrow().getKey();
    }
}
