package io.tiproxy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;

/**
 * One real {@code etcd} (Debian's etcd-server) on two free loopback ports, with a throw-away data
 * directory under {@code target/it-data/<name>-<clientPort>/}. {@link #stop()} and {@link #kill9()}
 * keep the data, so {@link #start()} brings the same member back on the same ports with its keys (and
 * leases: etcd restores them with a fresh TTL). {@link #close()} stops it and deletes the data.
 *
 * <p>Like {@link MariaDbServer}, each process is watched by a shell loop that kills it if this JVM
 * dies without running its shutdown hooks.
 */
public final class EtcdServer implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(20);
    private static final int START_ATTEMPTS = 3;

    private final String name;
    private final int clientPort;
    private final int peerPort;
    private final Path dir;
    private volatile Process process;

    private EtcdServer(String name, int clientPort, int peerPort) {
        this.name = name;
        this.clientPort = clientPort;
        this.peerPort = peerPort;
        this.dir = MariaDbServer.dataRoot().resolve(name + "-" + clientPort);
    }

    /** Starts a fresh single-member etcd and waits until it reports healthy. */
    public static EtcdServer start(String name) {
        for (int attempt = 1; ; attempt++) {
            EtcdServer server = new EtcdServer(name, Ports.allocate(), Ports.allocate());
            try {
                server.start();
                return server;
            } catch (RuntimeException e) {
                boolean portRace = server.logTail().contains("address already in use");
                server.close();
                if (!portRace || attempt >= START_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    /** {@code 127.0.0.1:clientPort}. */
    public String address() {
        return "127.0.0.1:" + clientPort;
    }

    /** {@code http://127.0.0.1:clientPort}. */
    public String endpoint() {
        return "http://" + address();
    }

    public int clientPort() {
        return clientPort;
    }

    public boolean isRunning() {
        Process p = process;
        return p != null && p.isAlive();
    }

    /** Starts the member (again), on the same ports and data; waits until healthy. */
    public synchronized void start() {
        if (isRunning()) {
            throw new IllegalStateException(name + " is already running");
        }
        String peer = "http://127.0.0.1:" + peerPort;
        List<String> command = List.of(binary(), "--name", name,
                "--data-dir", dir.resolve("data").toString(),
                "--listen-client-urls", endpoint(), "--advertise-client-urls", endpoint(),
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", name + "=" + peer,
                "--log-outputs", "stderr", "--logger", "zap");
        try {
            Files.createDirectories(dir);
            Process p = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log().toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()))
                    .start();
            process = p;
            Shell.startWatchdog(p.pid());
        } catch (IOException e) {
            throw new UncheckedIOException(name + ": cannot start etcd", e);
        }
        awaitHealthy();
    }

    /** Clean shutdown (SIGTERM); keeps the data. */
    public synchronized void stop() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroy();
        if (!Shell.waitFor(p, STOP_TIMEOUT)) {
            p.destroyForcibly();
            Shell.waitFor(p, Duration.ofSeconds(10));
            throw new IllegalStateException(name + " did not stop within " + STOP_TIMEOUT + "; killed it");
        }
    }

    /** SIGKILL, as in a crash; keeps the data. */
    public synchronized void kill9() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        p.destroyForcibly();
        if (!Shell.waitFor(p, Duration.ofSeconds(10))) {
            throw new IllegalStateException(name + " (pid " + p.pid() + ") survived SIGKILL");
        }
    }

    /** Stops etcd and deletes its data (kept with {@code -Dtiproxy.it.keepData=true}). */
    @Override
    public synchronized void close() {
        try {
            try {
                stop();
            } catch (RuntimeException e) {
                kill9();
            }
        } finally {
            if (!Boolean.getBoolean(MariaDbServer.KEEP_DATA_PROPERTY)) {
                Shell.deleteRecursively(dir);
            }
        }
    }

    @Override
    public String toString() {
        return "EtcdServer[" + name + " " + endpoint() + "]";
    }

    private void awaitHealthy() {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (true) {
            Process p = process;
            if (p == null || !p.isAlive()) {
                throw new IllegalStateException(name + ": etcd exited while starting (code "
                        + (p == null ? "?" : p.exitValue()) + "). log tail:\n" + logTail());
            }
            if (healthy()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": etcd not healthy within " + START_TIMEOUT + ". log tail:\n"
                        + logTail());
            }
            Shell.sleep(50);
        }
    }

    /** {@code GET /health} answers {@code "health":"true"} (a plain socket: no HTTP client threads). */
    private boolean healthy() {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", clientPort), 500);
            socket.setSoTimeout(1000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /health HTTP/1.0\r\nHost: " + address() + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = socket.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return response.startsWith("HTTP/1.0 200") && response.contains("\"health\":\"true\"");
        } catch (IOException e) {
            return false;
        }
    }

    private Path log() {
        return dir.resolve("etcd.log");
    }

    private String logTail() {
        try {
            if (!Files.exists(log())) {
                return "(no log)";
            }
            List<String> lines = Files.readAllLines(log(), StandardCharsets.UTF_8);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(cannot read log: " + e + ")";
        }
    }

    private static String binary() {
        for (String candidate : List.of("/usr/bin/etcd", "/usr/local/bin/etcd")) {
            if (Files.isExecutable(Paths.get(candidate))) {
                return candidate;
            }
        }
        throw new IllegalStateException("etcd not found: install Debian's etcd-server (scripts/deps.sh)");
    }
}
