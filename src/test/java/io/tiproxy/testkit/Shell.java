package io.tiproxy.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** The harness's few dealings with the OS: short commands, signals, a watchdog, files. */
final class Shell {
    private static final Duration COMMAND_TIMEOUT = Duration.ofSeconds(60);

    private Shell() {
    }

    record Result(int exitCode, String output) {
    }

    /**
     * Runs a short command (at most a minute), feeding {@code stdin} if given. Its output (stdout and
     * stderr) goes to {@code logFile} if given, and is returned either way. A timeout is exit code -1.
     */
    static Result run(List<String> command, String stdin, Path logFile) {
        Path out = null;
        try {
            out = logFile != null ? logFile : Files.createTempFile("tiproxy-cmd", ".out");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(out.toFile());
            if (stdin == null) {
                pb.redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()));
            }
            Process p = pb.start();
            if (stdin != null) {
                try (var in = p.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!waitFor(p, COMMAND_TIMEOUT)) {
                p.destroyForcibly();
                waitFor(p, Duration.ofSeconds(5));
                return new Result(-1, "timed out after " + COMMAND_TIMEOUT + ": " + String.join(" ", command)
                        + "\n" + Files.readString(out, StandardCharsets.UTF_8));
            }
            return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } finally {
            if (logFile == null && out != null) {
                try {
                    Files.deleteIfExists(out);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    /** {@code kill -SIGNAL pid}: ProcessHandle cannot send STOP or CONT. */
    static void kill(String signal, long pid) {
        Result result = run(List.of("kill", signal, Long.toString(pid)), null, null);
        if (result.exitCode() != 0) {
            throw new IllegalStateException("kill " + signal + " " + pid + " failed: " + result.output());
        }
    }

    /**
     * SIGKILLs {@code pid} if this JVM goes away without stopping it (a killed surefire fork leaves no
     * servers behind); the watchdog ends by itself when the process ends.
     */
    static void startWatchdog(long pid) throws IOException {
        long jvmPid = ProcessHandle.current().pid();
        String script = "while kill -0 " + pid + " 2>/dev/null; do"
                + " kill -0 " + jvmPid + " 2>/dev/null || { kill -9 " + pid + "; exit 0; };"
                + " sleep 1; done";
        new ProcessBuilder("setsid", "sh", "-c", script)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
    }

    static boolean waitFor(Process p, Duration timeout) {
        try {
            return p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    /** A MariaDB program's path: from PATH, else /usr/sbin or /usr/bin (a user's PATH may lack /usr/sbin). */
    static String binary(String program) {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(":")));
        dirs.addAll(List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin"));
        for (String d : dirs) {
            if (!d.isEmpty() && Files.isExecutable(Paths.get(d, program))) {
                return Paths.get(d, program).toString();
            }
        }
        throw new IllegalStateException(program + " not found on PATH or in /usr/sbin, /usr/bin:"
                + " install MariaDB with scripts/deps.sh");
    }

    static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException ignored) {
                    // best effort: a left-over file in target/ is harmless
                }
            });
        } catch (IOException | UncheckedIOException ignored) {
            // best effort
        }
    }

    /** The last {@code lines} lines of {@code text}. */
    static String tail(String text, int lines) {
        String[] all = text.split("\n");
        int from = Math.max(0, all.length - lines);
        return String.join("\n", Arrays.asList(all).subList(from, all.length));
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
