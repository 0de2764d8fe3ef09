package io.tiproxy.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.OptionalDouble;

/**
 * One real Prometheus server (Debian's {@code prometheus} package) scraping given targets every
 * second as job {@code tiproxy}, with a throw-away data directory under {@code target/it-data/}.
 * Tests query it over its HTTP API to see what Prometheus itself parsed from a scrape.
 */
public final class PrometheusServer implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final int port;
    private final Path dir;
    private final Process process;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    private PrometheusServer(int port, Path dir, Process process) {
        this.port = port;
        this.dir = dir;
        this.process = process;
    }

    /** Starts Prometheus scraping {@code targets} ("host:port", path {@code /metrics}) every second. */
    public static PrometheusServer start(String name, List<String> targets) {
        int port = Ports.allocate();
        Path dir = MariaDbServer.dataRoot().resolve(name + "-" + port);
        String config = "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                + "scrape_configs:\n  - job_name: tiproxy\n    static_configs:\n      - targets: ["
                + String.join(", ", targets.stream().map(t -> "\"" + t + "\"").toList()) + "]\n";
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("prometheus.yml"), config);
            Process p = new ProcessBuilder(binary(), "--config.file=" + dir.resolve("prometheus.yml"),
                    "--storage.tsdb.path=" + dir.resolve("data"), "--web.listen-address=127.0.0.1:" + port)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(dir.resolve("prometheus.log").toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()))
                    .start();
            Shell.startWatchdog(p.pid());
            PrometheusServer server = new PrometheusServer(port, dir, p);
            server.awaitReady();
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start prometheus in " + dir, e);
        }
    }

    /**
     * The value of an instant query that returns one series, or empty when it returns none.
     *
     * @throws IllegalStateException when the query fails or returns several series
     */
    public OptionalDouble query(String promql) {
        JsonNode result = get("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
                .path("data").path("result");
        if (result.size() > 1) {
            throw new IllegalStateException(promql + " returned " + result.size() + " series: " + result);
        }
        return result.isEmpty() ? OptionalDouble.empty()
                : OptionalDouble.of(Double.parseDouble(result.get(0).path("value").get(1).asText()));
    }

    /** Waits until Prometheus has scraped the targets at least once after this call; returns the scrape health. */
    public JsonNode awaitFreshScrape() {
        long since = System.currentTimeMillis();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            JsonNode targets = get("/api/v1/targets").path("data").path("activeTargets");
            boolean allFresh = targets.size() > 0;
            for (JsonNode t : targets) {
                String last = t.path("lastScrape").asText("");
                allFresh &= !last.startsWith("0001") && java.time.OffsetDateTime.parse(last).toInstant().toEpochMilli() > since;
            }
            if (allFresh) {
                return targets;
            }
            Shell.sleep(200);
        }
        throw new IllegalStateException("prometheus did not scrape within 20 s; log tail:\n" + logTail());
    }

    private JsonNode get(String pathAndQuery) {
        try {
            HttpResponse<String> response = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + port + pathAndQuery)).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
            if (response.statusCode() != 200) {
                throw new IllegalStateException("prometheus " + pathAndQuery + " -> " + response.statusCode()
                        + ": " + response.body());
            }
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new UncheckedIOException("prometheus " + pathAndQuery, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void awaitReady() {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("prometheus exited while starting; log tail:\n" + logTail());
            }
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/-/ready")).timeout(Duration.ofSeconds(1)).build(),
                        HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
            Shell.sleep(100);
        }
        close();
        throw new IllegalStateException("prometheus not ready within " + START_TIMEOUT + "; log tail:\n" + logTail());
    }

    private String logTail() {
        try {
            List<String> lines = Files.readAllLines(dir.resolve("prometheus.log"));
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static String binary() {
        for (String candidate : List.of("/usr/bin/prometheus", "/usr/local/bin/prometheus")) {
            if (Files.isExecutable(Paths.get(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("prometheus not found: install Debian's prometheus package (scripts/deps.sh)");
    }

    @Override
    public void close() {
        process.destroy();
        if (!Shell.waitFor(process, Duration.ofSeconds(20))) {
            process.destroyForcibly();
            Shell.waitFor(process, Duration.ofSeconds(10));
        }
        if (!Boolean.getBoolean(MariaDbServer.KEEP_DATA_PROPERTY)) {
            Shell.deleteRecursively(dir);
        }
    }
}
