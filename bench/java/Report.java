import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.ToDoubleFunction;

/**
 * Summarises bench/run.sh's runs.tsv: medians over rounds per (workload, threads, target), ratios
 * proxy/haproxy and proxy/direct as the median of per-round ratios (runs of one round are adjacent in
 * time, so pairing them cancels drift), and the targets that these runs can check.
 *
 * <pre>java -cp bench/.work/classes Report runs.tsv</pre>
 */
public final class Report {
    record Run(int round, String workload, int threads, String target, double qps, double p95, double p99,
               double avg, long errors, long reconnects, long queries, double cpuUser, double cpuSys,
               double backendCpu, double hostBusy, double foreign, int rc) {
        double cpuPerQueryUs() {
            return queries == 0 || Double.isNaN(cpuUser) ? Double.NaN : (cpuUser + cpuSys) / queries * 1e6;
        }

        double userPerQueryUs() {
            return queries == 0 || Double.isNaN(cpuUser) ? Double.NaN : cpuUser / queries * 1e6;
        }

        double sysPerQueryUs() {
            return queries == 0 || Double.isNaN(cpuSys) ? Double.NaN : cpuSys / queries * 1e6;
        }

        double backendPerQueryUs() {
            return queries == 0 ? Double.NaN : backendCpu / queries * 1e6;
        }

        boolean ok() {
            return rc == 0 && qps > 0;
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: Report runs.tsv");
            System.exit(2);
        }
        List<String> lines = Files.readAllLines(Path.of(args[0]));
        if (lines.isEmpty()) {
            System.err.println("no runs");
            System.exit(1);
        }
        String[] header = lines.get(0).split("\t");
        Map<String, Integer> col = new HashMap<>();
        for (int i = 0; i < header.length; i++) {
            col.put(header[i], i);
        }
        List<Run> runs = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            runs.add(new Run(
                    Integer.parseInt(f[col.get("round")]), f[col.get("workload")],
                    Integer.parseInt(f[col.get("threads")]), f[col.get("target")],
                    num(f[col.get("qps")]), num(f[col.get("p95_ms")]), num(f[col.get("p99_ms")]),
                    num(f[col.get("avg_ms")]), (long) num0(f[col.get("errors")]), (long) num0(f[col.get("reconnects")]),
                    (long) num0(f[col.get("queries")]), num(f[col.get("proxy_user_s")]), num(f[col.get("proxy_sys_s")]),
                    num(f[col.get("backend_cpu_s")]), num(f[col.get("host_busy_pct")]),
                    col.containsKey("foreign_cpu_pct") ? num(f[col.get("foreign_cpu_pct")]) : Double.NaN,
                    (int) num0(f[col.get("rc")])));
        }

        Set<String> cells = new LinkedHashSet<>();
        Set<String> targets = new LinkedHashSet<>();
        for (Run r : runs) {
            cells.add(r.workload + "\t" + r.threads);
            targets.add(r.target);
        }
        List<String> targetOrder = new ArrayList<>();
        for (String t : List.of("direct", "haproxy", "proxy", "proxy-b")) {
            if (targets.contains(t)) {
                targetOrder.add(t);
            }
        }
        for (String t : targets) {
            if (!targetOrder.contains(t)) {
                targetOrder.add(t);
            }
        }

        System.out.println("Medians over rounds (latency is per sysbench event: one query for point_select and range, one 18-query transaction for read_write)");
        System.out.println();
        System.out.println("| workload | thr | target | QPS | p95 ms | p99 ms | proxy CPU µs/query (user+sys) | backend CPU µs/query | host busy % | other load % | errors | runs |");
        System.out.println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (String cell : cells) {
            String[] wt = cell.split("\t");
            for (String t : targetOrder) {
                List<Run> rs = select(runs, wt[0], Integer.parseInt(wt[1]), t);
                if (rs.isEmpty()) {
                    continue;
                }
                List<Run> ok = rs.stream().filter(Run::ok).toList();
                long errors = rs.stream().mapToLong(Run::errors).sum();
                long failed = rs.size() - ok.size();
                double cpu = median(ok, Run::cpuPerQueryUs);
                String cpuText = Double.isNaN(cpu) ? "-" : String.format(Locale.ROOT, "%.1f (%.1f+%.1f)", cpu,
                        median(ok, Run::userPerQueryUs), median(ok, Run::sysPerQueryUs));
                System.out.printf(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d%s | %d |%n",
                        wt[0], wt[1], t, fmt(median(ok, Run::qps), 0), fmt(median(ok, Run::p95), 2),
                        fmt(median(ok, Run::p99), 2), cpuText, fmt(median(ok, Run::backendPerQueryUs), 1),
                        fmt(median(ok, Run::hostBusy), 0), fmt(median(ok, Run::foreign), 0), errors, failed > 0 ? " (" + failed + " runs failed)" : "",
                        ok.size());
            }
        }

        System.out.println();
        System.out.println("Ratios: median over rounds of the ratio within each round");
        System.out.println();
        System.out.println("| workload | thr | QPS proxy/haproxy | QPS proxy/direct | QPS haproxy/direct | CPU/query proxy/haproxy | p99 proxy/haproxy |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|");
        Map<String, double[]> ratios = new LinkedHashMap<>();
        for (String cell : cells) {
            String[] wt = cell.split("\t");
            String w = wt[0];
            int th = Integer.parseInt(wt[1]);
            double ph = pairedRatio(runs, w, th, "proxy", "haproxy", Run::qps);
            double pd = pairedRatio(runs, w, th, "proxy", "direct", Run::qps);
            double hd = pairedRatio(runs, w, th, "haproxy", "direct", Run::qps);
            double cpu = pairedRatio(runs, w, th, "proxy", "haproxy", Run::cpuPerQueryUs);
            double p99 = pairedRatio(runs, w, th, "proxy", "haproxy", Run::p99);
            ratios.put(cell, new double[] {ph, pd, hd, cpu, p99});
            System.out.printf(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s |%n", w, th,
                    fmtX(ph), fmtX(pd), fmtX(hd), fmtX(cpu), fmtX(p99));
        }

        if (targets.contains("proxy-b")) {
            System.out.println();
            System.out.println("A/B: proxy-b vs proxy (median of per-round ratios)");
            System.out.println();
            System.out.println("| workload | thr | QPS proxy-b/proxy | CPU/query proxy-b/proxy | p99 proxy-b/proxy | QPS proxy-b/haproxy | CPU/query proxy-b/haproxy |");
            System.out.println("|---|---:|---:|---:|---:|---:|---:|");
            for (String cell : cells) {
                String[] wt = cell.split("\t");
                int th = Integer.parseInt(wt[1]);
                System.out.printf(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s |%n", wt[0], th,
                        fmtX(pairedRatio(runs, wt[0], th, "proxy-b", "proxy", Run::qps)),
                        fmtX(pairedRatio(runs, wt[0], th, "proxy-b", "proxy", Run::cpuPerQueryUs)),
                        fmtX(pairedRatio(runs, wt[0], th, "proxy-b", "proxy", Run::p99)),
                        fmtX(pairedRatio(runs, wt[0], th, "proxy-b", "haproxy", Run::qps)),
                        fmtX(pairedRatio(runs, wt[0], th, "proxy-b", "haproxy", Run::cpuPerQueryUs)));
            }
        }

        System.out.println();
        System.out.println("Targets from the issue that these runs check (ratios from this run):");
        System.out.println();
        System.out.println("| target | cell | value | met |");
        System.out.println("|---|---|---:|---|");
        for (Map.Entry<String, double[]> e : ratios.entrySet()) {
            String[] wt = e.getKey().split("\t");
            String w = wt[0];
            double[] r = e.getValue();
            String cell = w + " " + wt[1] + " thr";
            if (w.startsWith("point_select")) {
                target("point_select QPS vs HAProxy >= 1.00x", cell, r[0], r[0] >= 1.0);
            } else if (w.startsWith("read_write")) {
                target("read_write QPS vs HAProxy >= 1.00x", cell, r[0], r[0] >= 1.0);
            } else if (w.startsWith("range")) {
                target("range-1000 QPS vs HAProxy >= 1.10x", cell, r[0], r[0] >= 1.10);
            }
            target("proxy CPU per query vs HAProxy <= 1.0x", cell, r[3], r[3] <= 1.0);
        }
    }

    private static void target(String name, String cell, double value, boolean met) {
        System.out.printf(Locale.ROOT, "| %s | %s | %s | %s |%n", name, cell, fmtX(value),
                Double.isNaN(value) ? "n/a" : met ? "yes" : "NO");
    }

    private static List<Run> select(List<Run> runs, String w, int th, String target) {
        return runs.stream().filter(r -> r.workload.equals(w) && r.threads == th && r.target.equals(target)).toList();
    }

    private static double pairedRatio(List<Run> runs, String w, int th, String a, String b, ToDoubleFunction<Run> f) {
        Map<Integer, Run> as = new HashMap<>();
        for (Run r : select(runs, w, th, a)) {
            if (r.ok()) {
                as.put(r.round, r);
            }
        }
        List<Double> values = new ArrayList<>();
        for (Run r : select(runs, w, th, b)) {
            Run x = as.get(r.round);
            if (x != null && r.ok()) {
                double va = f.applyAsDouble(x);
                double vb = f.applyAsDouble(r);
                if (!Double.isNaN(va) && !Double.isNaN(vb) && vb != 0) {
                    values.add(va / vb);
                }
            }
        }
        return medianOf(values);
    }

    private static double median(List<Run> rs, ToDoubleFunction<Run> f) {
        List<Double> v = new ArrayList<>();
        for (Run r : rs) {
            double x = f.applyAsDouble(r);
            if (!Double.isNaN(x)) {
                v.add(x);
            }
        }
        return medianOf(v);
    }

    private static double medianOf(List<Double> v) {
        if (v.isEmpty()) {
            return Double.NaN;
        }
        List<Double> s = new ArrayList<>(v);
        Collections.sort(s);
        int n = s.size();
        return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    private static double num(String s) {
        if (s == null || s.isEmpty() || s.equals("-")) {
            return Double.NaN;
        }
        return Double.parseDouble(s);
    }

    private static double num0(String s) {
        double d = num(s);
        return Double.isNaN(d) ? 0 : d;
    }

    private static String fmt(double v, int decimals) {
        if (Double.isNaN(v)) {
            return "-";
        }
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String fmtX(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2fx", v);
    }
}
