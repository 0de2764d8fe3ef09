package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.Sysbench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * The real sysbench {@code oltp_read_write} (server-side prepared statements) through the proxy, in the
 * background, as back-to-back runs of a fixed length until {@link #stop()}: a fault sequence whose length
 * is not known in advance stays under load from start to end, and every run ends by itself.
 *
 * <p>Only the error codes given are ignored by sysbench (it restarts the transaction); any other error
 * ends the run with FATAL. With {@code --verbosity=5} sysbench logs each ignored error, which is how
 * {@link Totals#ignoredByCode()} tells InnoDB/Galera deadlocks (1213, normal under any OLTP load) from the
 * proxy's own "lost connection to backend" (1105). A reconnect means the proxy dropped a session.
 */
public final class SysbenchLoad {
    private static final Pattern IGNORED = Pattern.compile("Ignoring error (\\d+) ");
    private static final Pattern REPEATED = Pattern.compile("^\\(last message repeated (\\d+) times\\)");

    /** What all runs together saw. {@code problems} lists every run that did not end well, with its output. */
    public record Totals(int runs, long transactions, long ignoredErrors, Map<Integer, Long> ignoredByCode,
                         long reconnects, List<String> problems) {
        long ignored(int code) {
            return ignoredByCode.getOrDefault(code, 0L);
        }

        @Override
        public String toString() {
            return runs + " run(s), " + transactions + " transactions, ignored errors " + ignoredErrors + " "
                    + ignoredByCode + ", reconnects " + reconnects + ", failed runs " + problems.size();
        }
    }

    private final List<String> command;
    private final Duration runLength;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final List<Commands.Result> results = new ArrayList<>();
    private final Thread thread;

    private SysbenchLoad(List<String> command, Duration runLength) {
        this.command = command;
        this.runLength = runLength;
        this.thread = new Thread(this::loop, "sysbench-load");
        thread.setDaemon(true);
    }

    /**
     * Starts runs of {@code runLength} against {@code port} (tables already prepared), ignoring only
     * {@code ignoredCodes}.
     */
    public static SysbenchLoad start(int port, int tables, int tableSize, int threads, Duration runLength,
                                     Set<Integer> ignoredCodes) {
        if (ignoredCodes.isEmpty()) {
            throw new IllegalArgumentException("sysbench needs at least one error code to ignore (1213: deadlocks)");
        }
        String ignore = ignoredCodes.stream().sorted().map(String::valueOf).collect(Collectors.joining(","));
        List<String> cmd = Sysbench.command(port, tables, tableSize, "--threads=" + threads,
                "--time=" + runLength.toSeconds(), "--report-interval=0", "--verbosity=5",
                "--mysql-ignore-errors=" + ignore, "run");
        SysbenchLoad load = new SysbenchLoad(cmd, runLength);
        load.thread.start();
        return load;
    }

    private void loop() {
        do {
            Commands.Result result;
            try {
                result = Commands.run(command, null, runLength.plusSeconds(300)); // a statement may wait out a frozen backend
            } catch (RuntimeException e) {
                result = new Commands.Result(-1, "sysbench could not run to its end: " + e.getMessage());
            }
            synchronized (results) {
                results.add(result);
            }
            if (result.exitCode() != 0) {
                break; // a failed run is the finding; more runs would only bury it
            }
        } while (running.get());
    }

    /** Runs finished so far. */
    public int finishedRuns() {
        synchronized (results) {
            return results.size();
        }
    }

    /** Whether the runs stopped early because one failed. */
    public boolean failedEarly() {
        return !thread.isAlive() && running.get();
    }

    /** Lets the current run end (no new one starts) and returns what all runs saw. */
    public Totals stop() throws InterruptedException {
        running.set(false);
        thread.join(runLength.plusSeconds(360).toMillis());
        if (thread.isAlive()) {
            throw new IllegalStateException("sysbench did not end within " + runLength.plusSeconds(360));
        }
        synchronized (results) {
            return totals(results);
        }
    }

    static Totals totals(List<Commands.Result> runs) {
        long transactions = 0;
        long ignored = 0;
        long reconnects = 0;
        Map<Integer, Long> byCode = new TreeMap<>();
        List<String> problems = new ArrayList<>();
        for (Commands.Result run : runs) {
            String out = run.output();
            Long tx = count(out, "transactions");
            Long ign = count(out, "ignored errors");
            Long rec = count(out, "reconnects");
            if (run.exitCode() != 0 || out.contains("FATAL") || tx == null || ign == null || rec == null) {
                problems.add("exit " + run.exitCode() + ":\n" + out);
            }
            transactions += tx == null ? 0 : tx;
            ignored += ign == null ? 0 : ign;
            reconnects += rec == null ? 0 : rec;
            ignoredByCode(out).forEach((code, n) -> byCode.merge(code, n, Long::sum));
        }
        return new Totals(runs.size(), transactions, ignored, byCode, reconnects, problems);
    }

    /** Sums sysbench's "Ignoring error CODE" debug lines, counting "(last message repeated N times)". */
    static Map<Integer, Long> ignoredByCode(String output) {
        Map<Integer, Long> byCode = new TreeMap<>();
        Integer last = null;
        for (String line : output.split("\n")) {
            Matcher repeated = REPEATED.matcher(line);
            if (repeated.find()) {
                if (last != null) {
                    byCode.merge(last, Long.parseLong(repeated.group(1)), Long::sum);
                }
                continue;
            }
            Matcher ignored = IGNORED.matcher(line);
            last = ignored.find() ? Integer.valueOf(ignored.group(1)) : null;
            if (last != null) {
                byCode.merge(last, 1L, Long::sum);
            }
        }
        return byCode;
    }

    private static Long count(String output, String label) {
        Matcher m = Pattern.compile(label + ":\\s+(\\d+)").matcher(output);
        return m.find() ? Long.parseLong(m.group(1)) : null;
    }
}
