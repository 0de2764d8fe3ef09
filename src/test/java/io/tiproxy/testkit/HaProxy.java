package io.tiproxy.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real HAProxy in TCP mode on loopback: the load balancer users put in front of the proxy. Each
 * frontend listens on its own free port and forwards to one server line, written as HAProxy's own
 * options (for example {@code "127.0.0.1:6000 send-proxy-v2 source 127.0.0.9"}). Runs in the
 * foreground ({@code -db}) as a child of this JVM, watched so that it dies with the JVM.
 */
public final class HaProxy implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(20);

    private final Process process;
    private final Map<String, Integer> ports;
    private final Path log;

    private HaProxy(Process process, Map<String, Integer> ports, Path log) {
        this.process = process;
        this.ports = ports;
        this.log = log;
    }

    /**
     * Starts HAProxy with one frontend per entry of {@code servers} (frontend name -> server line) and
     * waits until every frontend accepts connections.
     */
    public static HaProxy start(Path dir, Map<String, String> servers) {
        try {
            Files.createDirectories(dir);
            Map<String, Integer> ports = new LinkedHashMap<>();
            List<String> cfg = new ArrayList<>(List.of(
                    "global",
                    "  maxconn 200",
                    "defaults",
                    "  mode tcp",
                    "  timeout connect 5s",
                    "  timeout client 120s",
                    "  timeout server 120s"));
            for (Map.Entry<String, String> e : servers.entrySet()) {
                int port = Ports.allocate();
                ports.put(e.getKey(), port);
                cfg.add("listen " + e.getKey());
                cfg.add("  bind 127.0.0.1:" + port);
                cfg.add("  server s1 " + e.getValue());
            }
            Path file = dir.resolve("haproxy.cfg");
            Files.write(file, cfg, StandardCharsets.UTF_8);
            Path log = dir.resolve("haproxy.log");
            Process p = new ProcessBuilder(Shell.binary("haproxy"), "-db", "-f", file.toString())
                    .redirectErrorStream(true).redirectOutput(log.toFile()).start();
            Shell.startWatchdog(p.pid());
            HaProxy haProxy = new HaProxy(p, Map.copyOf(ports), log);
            haProxy.awaitListening();
            return haProxy;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start haproxy in " + dir, e);
        }
    }

    private void awaitListening() throws IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        for (int port : ports.values()) {
            while (true) {
                if (!process.isAlive()) {
                    throw new IllegalStateException("haproxy exited with " + process.exitValue() + ": "
                            + Files.readString(log));
                }
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                    break;
                } catch (IOException notYet) {
                    if (System.nanoTime() > deadline) {
                        close();
                        throw new IllegalStateException("haproxy did not listen on " + port + " within "
                                + START_TIMEOUT + ": " + Files.readString(log));
                    }
                    Shell.sleep(50);
                }
            }
        }
    }

    /** The port of a frontend named in {@link #start}. */
    public int port(String frontend) {
        Integer port = ports.get(frontend);
        if (port == null) {
            throw new IllegalArgumentException("no frontend " + frontend + " (have " + ports.keySet() + ")");
        }
        return port;
    }

    @Override
    public void close() {
        process.destroy();
        if (!Shell.waitFor(process, Duration.ofSeconds(10))) {
            process.destroyForcibly();
            Shell.waitFor(process, Duration.ofSeconds(10));
        }
    }
}
