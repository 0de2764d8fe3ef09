package io.tiproxy.proxy.chaos;

import io.tiproxy.testkit.TestProxy;

import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Counters read from the proxy's own {@code /metrics} text (what an operator sees), summed by one label:
 * disconnections by {@code type}, migrations by {@code reason} and result.
 */
public final class ProxyCounters {
    private static final Pattern SAMPLE = Pattern.compile("^([a-z_]+)\\{([^}]*)}\\s+(\\S+)$");

    private final String text;

    private ProxyCounters(String text) {
        this.text = text;
    }

    public static ProxyCounters read(TestProxy proxy) {
        return new ProxyCounters(proxy.server().metrics().scrape());
    }

    /** {@code tiproxy_server_disconnection_total} by {@code type} ("success" is a client that quit). */
    public Map<String, Long> disconnections() {
        return sumBy("tiproxy_server_disconnection_total", "type", null, null);
    }

    /** Disconnections of any type other than a client quitting: sessions the proxy ended. */
    public long disconnectionsNotByClient() {
        return disconnections().entrySet().stream().filter(e -> !e.getKey().equals("success"))
                .mapToLong(Map.Entry::getValue).sum();
    }

    /** Migrations that ended with {@code result} ("succeed" or "fail"), by {@code reason}. */
    public Map<String, Long> migrations(String result) {
        return sumBy("tiproxy_balance_migrate_total", "reason", "migrate_res", result);
    }

    /** {@code tiproxy_server_connections}: client connections open now. */
    public long connections() {
        Matcher m = Pattern.compile("(?m)^tiproxy_server_connections (\\S+)$").matcher(text);
        if (!m.find()) {
            throw new IllegalStateException("no tiproxy_server_connections in /metrics:\n" + text);
        }
        return (long) Double.parseDouble(m.group(1));
    }

    private Map<String, Long> sumBy(String name, String label, String filterLabel, String filterValue) {
        Map<String, Long> sums = new TreeMap<>();
        for (String line : text.split("\n")) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.find() || !m.group(1).equals(name)) {
                continue;
            }
            Map<String, String> labels = labels(m.group(2));
            if (filterLabel != null && !filterValue.equals(labels.get(filterLabel))) {
                continue;
            }
            sums.merge(labels.getOrDefault(label, ""), (long) Double.parseDouble(m.group(3)), Long::sum);
        }
        return sums;
    }

    private static Map<String, String> labels(String text) {
        Map<String, String> labels = new TreeMap<>();
        Matcher m = Pattern.compile("([a-z_]+)=\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(text);
        while (m.find()) {
            labels.put(m.group(1), m.group(2));
        }
        return labels;
    }
}
