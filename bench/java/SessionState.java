import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Session state for bench/drain.sh ({@code MySqlBench idle --state}): what a migrated session must still
 * have on its new backend. Each session gets values of its own, so a session restored with another's
 * state (or a fresh one) is caught, not only a lost one: two user variables (an integer and a string,
 * which the proxy must replay typed) and the session variable {@code time_zone}.
 */
final class SessionState {
    private SessionState() {}

    /** Sets session {@code id}'s state on {@code c}. */
    static void set(MySqlBench.Conn c, int id) throws IOException {
        c.query("SET @bench_id = " + id + ", @bench_tag = '" + tag(id) + "'");
        c.query("SET SESSION time_zone = '" + timeZone(id) + "'");
        c.benchId = id;
    }

    /**
     * Reads every session's state back and prints {@code CHECKED ok=N bad=M errors=E by_port=P:n,...}
     * ({@code @@port}: the backend each session ended on), then one {@code BAD} or {@code ERROR} line for
     * each of the first few sessions that failed.
     */
    static void checkAll(List<MySqlBench.Conn> sessions) {
        int ok = 0;
        int bad = 0;
        int errors = 0;
        Map<String, Integer> byPort = new TreeMap<>();
        StringBuilder problems = new StringBuilder();
        int shown = 0;
        for (MySqlBench.Conn c : sessions) {
            try {
                List<String[]> rows = c.query("SELECT @bench_id, @bench_tag, @@session.time_zone, @@port");
                String[] row = rows.isEmpty() ? new String[4] : rows.get(0);
                byPort.merge(String.valueOf(row[3]), 1, Integer::sum);
                String want = c.benchId + "/" + tag(c.benchId) + "/" + timeZone(c.benchId);
                String got = row[0] + "/" + row[1] + "/" + row[2];
                if (want.equals(got)) {
                    ok++;
                } else {
                    bad++;
                    if (shown++ < 5) {
                        problems.append("BAD session ").append(c.benchId).append(": expected ").append(want)
                                .append(", found ").append(got).append('\n');
                    }
                }
            } catch (IOException | RuntimeException e) {
                errors++;
                if (shown++ < 5) {
                    problems.append("ERROR session ").append(c.benchId).append(": ").append(e).append('\n');
                }
            }
        }
        StringBuilder ports = new StringBuilder();
        byPort.forEach((p, n) -> ports.append(ports.length() == 0 ? "" : ",").append(p).append(':').append(n));
        System.out.print(problems);
        System.out.println("CHECKED ok=" + ok + " bad=" + bad + " errors=" + errors + " by_port=" + ports);
        System.out.flush();
    }

    static String tag(int id) {
        return "session-" + id;
    }

    /** A valid UTC offset that differs between neighbouring sessions ("+07:45"). */
    static String timeZone(int id) {
        return String.format(Locale.ROOT, "+%02d:%02d", id % 12, (id / 12) % 4 * 15);
    }
}
