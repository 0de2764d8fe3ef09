package io.tiproxy.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;

/**
 * Prometheus' own checker, {@code promtool} (Debian's {@code prometheus} package): validates metrics
 * text and alert rules with the parser Prometheus itself uses.
 */
public final class Promtool {
    private Promtool() {
    }

    /** What promtool said: exit code 0 clean, 3 lint findings (one per line), 1 unparseable. */
    public record Result(int exitCode, String output) {
        /** The lint findings, one per line ({@code name message}). */
        public List<String> findings() {
            return output.lines().filter(line -> !line.isBlank()).toList();
        }
    }

    /** {@code promtool check metrics} on exposition text. */
    public static Result checkMetrics(String exposition) {
        Commands.Result r = Commands.run(List.of(binary(), "check", "metrics"), exposition, Duration.ofSeconds(30));
        return new Result(r.exitCode(), r.output());
    }

    /** {@code promtool check rules FILE}. */
    public static Result checkRules(Path rules) {
        Commands.Result r = Commands.run(List.of(binary(), "check", "rules", rules.toString()), null, Duration.ofSeconds(30));
        return new Result(r.exitCode(), r.output());
    }

    /** {@code promtool test rules FILE}: Prometheus' unit tests for alert rules. */
    public static Result testRules(Path tests) {
        Commands.Result r = Commands.run(List.of(binary(), "test", "rules", tests.toString()), null, Duration.ofSeconds(60));
        return new Result(r.exitCode(), r.output());
    }

    static String binary() {
        for (String candidate : List.of("/usr/bin/promtool", "/usr/local/bin/promtool")) {
            if (Files.isExecutable(Paths.get(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("promtool not found: install Debian's prometheus package (scripts/deps.sh)");
    }
}
