import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Times session migration for bench/drain.sh: how long TiProxy takes to move every session off a drained
 * backend. The sessions themselves are held by {@code MySqlBench idle --state} in another process; this
 * tool only talks to TiProxy's HTTP API and, directly, to the backends.
 *
 * <pre>
 * java -cp bench/.work/classes DrainTimer --api 127.0.0.1:24080 --backends 127.0.0.1:24306,127.0.0.1:24307,...
 *      --sessions N [--rounds 3] [--poll-ms 10] [--timeout 60] [--settle-timeout 180] [--timeline-dir D]
 *      [--user app --password app-pass --db test]
 * </pre>
 *
 * <p>Round r targets backend {@code (r-1) mod n}. First it gathers all N sessions there: the other
 * backends are drained until the target holds N and they hold none (not timed). Then the others are
 * undrained and the target drained ({@code POST /api/backends/{addr}/drain}); every --poll-ms the tool
 * reads the target's session count from {@code GET /api/backends} and counts the account's threads in the
 * target's own {@code information_schema.PROCESSLIST} (the backend's view: a session has left only when
 * its old backend connection is closed). It prints one line per round:
 * <pre>
 * ROUND r=1 backend=A sessions=N gather_ms=.. api_zero_ms=.. backend_zero_ms=.. first_move_ms=.. backend_total_at_zero=..
 *       api_total=.. backend_total=.. poll_mean_ms=.. status=ok|timeout
 * </pre>
 * {@code *_zero_ms}: from sending the drain request to the first poll that saw 0 (-1: not within --timeout);
 * {@code first_move_ms}: to the first poll where the backend held fewer than N; the totals count sessions on
 * all backends after the round (by the API and by the backends), which should both be N: right when the
 * drain ended ({@code backend_total_at_zero}) and once they agree or 5 s later (the others);
 * {@code poll_mean_ms}: the mean time between two polls (above --poll-ms on a busy machine). At the end every
 * backend is undrained. With --timeline-dir each round's polls go to {@code timeline-r<r>.tsv}.
 */
public final class DrainTimer {
    private static final Pattern BACKEND = Pattern.compile("\"addr\"\\s*:\\s*\"([^\"]+)\"");
    private static final Pattern SESSIONS = Pattern.compile("\"sessions\"\\s*:\\s*(\\d+)");

    private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private final String api;
    private final List<String> backends;
    private final Map<String, MySqlBench.Conn> watchers = new HashMap<>();
    private final String user;

    private DrainTimer(String api, List<String> backends, String user) {
        this.api = api;
        this.backends = backends;
        this.user = user;
    }

    public static void main(String[] args) throws Exception {
        String api = null;
        List<String> backends = new ArrayList<>();
        int sessions = -1;
        int rounds = 3;
        int pollMs = 10;
        int timeoutS = 60;
        int settleTimeoutS = 180;
        String timelineDir = null;
        String user = "app";
        String password = "app-pass";
        String db = "test";
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--api" -> api = v;
                case "--backends" -> backends = List.of(v.split(","));
                case "--sessions" -> sessions = Integer.parseInt(v);
                case "--rounds" -> rounds = Integer.parseInt(v);
                case "--poll-ms" -> pollMs = Integer.parseInt(v);
                case "--timeout" -> timeoutS = Integer.parseInt(v);
                case "--settle-timeout" -> settleTimeoutS = Integer.parseInt(v);
                case "--timeline-dir" -> timelineDir = v;
                case "--user" -> user = v;
                case "--password" -> password = v;
                case "--db" -> db = v;
                default -> usage("unknown option " + args[i]);
            }
        }
        if (api == null || backends.size() < 2 || sessions < 1 || args.length % 2 != 0) {
            usage("--api, --sessions and at least two --backends are required");
        }
        MySqlBench.login(user, password, db);
        DrainTimer timer = new DrainTimer(api, backends, user);
        try {
            for (int r = 1; r <= rounds; r++) {
                timer.round(r, sessions, pollMs, timeoutS, settleTimeoutS, timelineDir);
            }
        } finally {
            for (String b : backends) {
                timer.setDrained(b, false);
            }
        }
    }

    private static void usage(String why) {
        System.err.println("DrainTimer: " + why);
        System.err.println("usage: DrainTimer --api HOST:PORT --backends A,B[,C] --sessions N [--rounds 3] [--poll-ms 10]"
                + " [--timeout 60] [--settle-timeout 180] [--timeline-dir D] [--user U --password P --db D]");
        System.exit(2);
    }

    private void round(int r, int n, int pollMs, int timeoutS, int settleTimeoutS, String timelineDir)
            throws IOException, InterruptedException {
        String target = backends.get((r - 1) % backends.size());
        List<String> others = backends.stream().filter(b -> !b.equals(target)).toList();
        long g0 = System.nanoTime();
        for (String o : others) {
            setDrained(o, true);
        }
        long gatherDeadline = g0 + settleTimeoutS * 1_000_000_000L;
        Map<String, Integer> counts = apiSessions();
        while (!gathered(counts, target, n)) {
            if (System.nanoTime() > gatherDeadline) {
                System.out.println("ROUND r=" + r + " backend=" + target + " sessions=" + counts.getOrDefault(target, 0)
                        + " status=not-gathered (after " + settleTimeoutS + " s the API shows " + counts + ")");
                System.out.flush();
                return;
            }
            Thread.sleep(50);
            counts = apiSessions();
        }
        long gatherMs = (System.nanoTime() - g0) / 1_000_000;
        for (String o : others) {
            setDrained(o, false);
        }
        MySqlBench.Conn watcher = watcher(target);
        PrintWriter timeline = timelineDir == null ? null
                : new PrintWriter(Files.newBufferedWriter(Path.of(timelineDir, "timeline-r" + r + ".tsv")));
        if (timeline != null) {
            timeline.println("ms\tapi_sessions\tbackend_sessions");
        }
        long t0 = System.nanoTime();
        setDrained(target, true);
        long deadline = t0 + timeoutS * 1_000_000_000L;
        long apiZero = -1;
        long backendZero = -1;
        long firstMove = -1;
        long polls = 0;
        long lastMs = 0;
        for (long tick = 0; ; tick++) {
            int onApi = apiSessions().getOrDefault(target, -1);
            int onBackend = backendSessions(watcher);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            polls++;
            lastMs = ms;
            if (timeline != null) {
                timeline.println(ms + "\t" + onApi + "\t" + onBackend);
            }
            if (firstMove < 0 && (onApi < n || onBackend < n)) {
                firstMove = ms;
            }
            if (apiZero < 0 && onApi == 0) {
                apiZero = ms;
            }
            if (backendZero < 0 && onBackend == 0) {
                backendZero = ms;
            }
            if ((apiZero >= 0 && backendZero >= 0) || System.nanoTime() > deadline) {
                break;
            }
            long next = t0 + (tick + 1) * pollMs * 1_000_000L;
            long wait = next - System.nanoTime();
            if (wait > 0) {
                Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            }
        }
        if (timeline != null) {
            timeline.close();
        }
        // right after a drain the backends may still be closing connections the proxy gave up: allow them
        // a few seconds to agree with the number of sessions before counting what remains
        long settleDeadline = System.nanoTime() + 5_000_000_000L;
        int apiTotal;
        int backendTotal;
        int backendTotalAtZero = -1;
        while (true) {
            apiTotal = apiSessions().values().stream().mapToInt(Integer::intValue).sum();
            backendTotal = 0;
            for (String b : backends) {
                backendTotal += backendSessions(watcher(b));
            }
            if (backendTotalAtZero < 0) {
                backendTotalAtZero = backendTotal;
            }
            if ((apiTotal == n && backendTotal == n) || System.nanoTime() > settleDeadline) {
                break;
            }
            Thread.sleep(100);
        }
        String status = apiZero >= 0 && backendZero >= 0 ? "ok" : "timeout";
        System.out.printf(Locale.ROOT, "ROUND r=%d backend=%s sessions=%d gather_ms=%d api_zero_ms=%d backend_zero_ms=%d"
                        + " first_move_ms=%d backend_total_at_zero=%d api_total=%d backend_total=%d poll_mean_ms=%.1f status=%s%n",
                r, target, n, gatherMs, apiZero, backendZero, firstMove, backendTotalAtZero, apiTotal, backendTotal,
                polls > 1 ? (double) lastMs / (polls - 1) : 0.0, status);
        System.out.flush();
    }

    private static boolean gathered(Map<String, Integer> counts, String target, int n) {
        int elsewhere = 0;
        for (Map.Entry<String, Integer> e : counts.entrySet()) {
            if (!e.getKey().equals(target)) {
                elsewhere += e.getValue();
            }
        }
        return counts.getOrDefault(target, 0) >= n && elsewhere == 0;
    }

    /** Drains or undrains {@code backend} through the API; fails loudly on any answer but 2xx. */
    private void setDrained(String backend, boolean drained) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://" + api + "/api/backends/" + backend + "/drain"))
                .timeout(Duration.ofSeconds(10));
        HttpRequest req = drained ? b.POST(HttpRequest.BodyPublishers.noBody()).build() : b.DELETE().build();
        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() / 100 != 2) {
            throw new IOException((drained ? "drain" : "undrain") + " of " + backend + " answered " + resp.statusCode()
                    + ": " + resp.body());
        }
    }

    /** Sessions per backend address, as {@code GET /api/backends} reports them. */
    private Map<String, Integer> apiSessions() throws IOException, InterruptedException {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + api + "/api/backends"))
                .timeout(Duration.ofSeconds(10)).GET().build();
        HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
        if (resp.statusCode() != 200) {
            throw new IOException("GET /api/backends answered " + resp.statusCode() + ": " + resp.body());
        }
        Map<String, Integer> out = new HashMap<>();
        String body = resp.body();
        Matcher addr = BACKEND.matcher(body);
        while (addr.find()) {
            Matcher sessions = SESSIONS.matcher(body);
            if (!sessions.find(addr.end())) {
                throw new IOException("no session count after backend " + addr.group(1) + " in " + body);
            }
            out.put(addr.group(1), Integer.parseInt(sessions.group(1)));
        }
        return out;
    }

    /** Threads of the benchmark account on the backend {@code w} is connected to, not counting {@code w}. */
    private int backendSessions(MySqlBench.Conn w) throws IOException {
        List<String[]> rows = w.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '" + user
                + "' AND ID <> CONNECTION_ID()");
        return Integer.parseInt(rows.get(0)[0]);
    }

    /** A direct session to {@code backend} (host:port), opened once and kept. */
    private MySqlBench.Conn watcher(String backend) throws IOException {
        MySqlBench.Conn c = watchers.get(backend);
        if (c == null) {
            int colon = backend.lastIndexOf(':');
            c = MySqlBench.Conn.open(backend.substring(0, colon), Integer.parseInt(backend.substring(colon + 1)), 10_000);
            watchers.put(backend, c);
        }
        return c;
    }
}
