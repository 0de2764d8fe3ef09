package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 10,000 connections opened and then dropped at once: most of them stuck somewhere in the handshake,
 * some logged in, some with a result on its way. The clients run in a child JVM
 * ({@link ConnectionStormClient}) so that the proxy's JVM keeps its open files for the proxy's own
 * sockets. Afterwards the proxy's sessions, its connection gauge and the backends' Threads_connected
 * must be back at their baseline, no buffer may leak, a bystander must have worked throughout, and a
 * new login must work.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class ConnectionStormTest {
    static final int WANTED = Integer.getInteger("tiproxy.storm.connections", 10_000);
    static final Duration SETTLE = Duration.ofSeconds(60);

    static TestProxy proxy;

    @BeforeAll
    static void start() {
        // handshakes left hanging must still be open when the storm is dropped
        proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "  handshake-timeout: \"300s\"\n", "");
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    @Test
    @Timeout(600)
    void tenThousandConnectionsOpenedAndDroppedAtOnceLeaveNothingBehind() throws Exception {
        int total = connectionsThatFit();
        int held = 0;
        int logins = 0;
        for (int i = 0; i < total; i++) {
            held += ConnectionStormClient.heldUntilDrop(i) ? 1 : 0;
            logins += ConnectionStormClient.logsIn(i) ? 1 : 0;
        }
        List<MariaDbServer> backends = MariaDbCluster.shared().servers();
        try (LeakCheck leakCheck = LeakCheck.start(); Bystander bystander = Bystander.start(proxy, Duration.ofMillis(50))) {
            leakCheck.assertDetectorWorks();
            int sessionsBefore = proxy.server().registry().size();
            int[] threadsBefore = backends.stream().mapToInt(Bystander::threadsConnected).toArray();
            Process child = startClients(total);
            try {
                BlockingQueue<String> lines = linesOf(child);
                long started = System.nanoTime();
                String open = awaitLine(lines, "OPEN ", Duration.ofMinutes(8));
                String[] f = open.split(" ");
                assertThat(Integer.parseInt(f[2])).as("connections or logins that failed: " + open).isZero();
                assertThat(Integer.parseInt(f[3])).as("logins").isEqualTo(logins);
                int expected = sessionsBefore + held;
                Bystander.awaitAtLeast("proxy sessions with all " + held + " held connections open",
                        () -> proxy.server().registry().size(), expected, SETTLE);
                int peak = proxy.server().registry().size();
                long openSeconds = (System.nanoTime() - started) / 1_000_000_000L;

                child.getOutputStream().write("DROP\n".getBytes(StandardCharsets.US_ASCII));
                child.getOutputStream().flush();
                awaitLine(lines, "DROPPED ", Duration.ofMinutes(2));
                long dropped = System.nanoTime();
                Bystander.awaitAtMost("proxy sessions back to the baseline", () -> proxy.server().registry().size(),
                        sessionsBefore, SETTLE);
                for (int i = 0; i < backends.size(); i++) {
                    MariaDbServer b = backends.get(i);
                    Bystander.awaitAtMost(b.name() + " Threads_connected back to the baseline",
                            () -> Bystander.threadsConnected(b), threadsBefore[i], SETTLE);
                }
                long settleMillis = (System.nanoTime() - dropped) / 1_000_000;
                assertThat(LimitsTest.metric(proxy, "tiproxy_server_connections")).isEqualTo(sessionsBefore);
                assertThat(child.waitFor(60, TimeUnit.SECONDS)).as("storm client exited").isTrue();
                System.out.println("ConnectionStormTest: " + total + " connections (" + logins + " logged in, " + held
                        + " held) opened in " + openSeconds + " s; proxy peak " + peak + " sessions; after the drop, "
                        + "sessions and backend threads back to baseline in " + settleMillis + " ms; bystander ran "
                        + bystander.queries() + " queries");
                bystander.stopAndAssertUnharmed();
                assertThat(leakCheck.leaks()).as("ByteBuf leaks").isEmpty();
            } finally {
                if (child.isAlive()) {
                    child.destroyForcibly();
                }
            }
        }
        try (Connection fresh = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            assertThat(fresh.isValid(5)).as("a new login after the storm").isTrue();
        }
    }

    /**
     * 10,000 unless this JVM's open-files limit is too low: the proxy holds one socket per connection
     * and one more per login.
     */
    private static int connectionsThatFit() throws IOException {
        long limit = openFilesLimit();
        long inUse;
        try (Stream<Path> fds = Files.list(Paths.get("/proc/self/fd"))) {
            inUse = fds.count();
        }
        long room = (limit - inUse - 500) * ConnectionStormClient.KINDS / (ConnectionStormClient.KINDS + 2);
        int total = (int) Math.min(WANTED, room);
        if (total < WANTED) {
            System.out.println("ConnectionStormTest: open-files limit " + limit + " with " + inUse + " in use: "
                    + total + " connections instead of " + WANTED);
        }
        assertThat(total).as("connections this JVM's open-files limit allows").isGreaterThanOrEqualTo(1000);
        return total;
    }

    /** The soft limit on open files ("Max open files" in /proc/self/limits). */
    private static long openFilesLimit() throws IOException {
        for (String line : Files.readAllLines(Paths.get("/proc/self/limits"))) {
            if (line.startsWith("Max open files")) {
                String soft = line.substring("Max open files".length()).trim().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE / 4 : Long.parseLong(soft);
            }
        }
        throw new IllegalStateException("no open-files limit in /proc/self/limits");
    }

    private static Process startClients(int total) throws Exception {
        String classes = Paths.get(ConnectionStormClient.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "-Xmx256m", "-Xss256k", "-XX:+UseSerialGC", "-cp", classes,
                ConnectionStormClient.class.getName(), String.valueOf(proxy.port()), String.valueOf(total),
                TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE)
                .redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.PIPE).start();
    }

    private static BlockingQueue<String> linesOf(Process child) {
        BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    System.out.println("storm client: " + line);
                    lines.add(line);
                }
            } catch (IOException e) {
                lines.add("READ FAILED " + e);
            }
        }, "storm-client-output");
        reader.setDaemon(true);
        reader.start();
        return lines;
    }

    private static String awaitLine(BlockingQueue<String> lines, String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            assertThat(line).as("a line starting with \"" + prefix + "\" from the storm client within " + timeout).isNotNull();
            if (line.startsWith(prefix)) {
                return line;
            }
        }
    }
}
