package io.tiproxy.proxy.chaos;

import io.tiproxy.proxy.client.ClientConnection;
import io.tiproxy.testkit.TestProxy;

import java.lang.management.ManagementFactory;
import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * After chaos, the proxy must hold what it held before: no session left in its registry, in the router's
 * per-backend counts or in {@code tiproxy_server_connections}, no session object kept reachable (each one
 * seen during the test is watched through a weak reference until the garbage collector frees it), and a
 * heap after GC near where it started. The proxy runs in this JVM, so its objects can be watched directly.
 */
public final class SessionLeakCheck {
    /** Slack for the heap after GC: the test's own data (acknowledged ids, sysbench output) lives here too. */
    private static final long HEAP_SLACK_BYTES = 64L << 20;

    /** What was seen: the heap after GC at the start and at the end, and how many sessions were watched. */
    public record Report(long heapBeforeBytes, long heapAfterBytes, int sessionsWatched) {
        @Override
        public String toString() {
            return "heap after GC " + (heapBeforeBytes >> 20) + " MiB before, " + (heapAfterBytes >> 20)
                    + " MiB after; " + sessionsWatched + " session objects freed";
        }
    }

    private final TestProxy proxy;
    private final long heapBefore;
    private final List<WeakReference<ClientConnection>> watched = new ArrayList<>();

    private SessionLeakCheck(TestProxy proxy, long heapBefore) {
        this.proxy = proxy;
        this.heapBefore = heapBefore;
    }

    /** Starts the check on an idle proxy (no session open). */
    public static SessionLeakCheck baseline(TestProxy proxy) {
        assertThat(proxy.server().registry().size()).as("sessions before the test").isZero();
        return new SessionLeakCheck(proxy, heapAfterGc());
    }

    /** Watches every session the proxy holds now (call while the test's sessions are open). */
    public void watchOpenSessions() {
        for (ClientConnection c : proxy.server().registry().all()) {
            watched.add(new WeakReference<>(c));
        }
    }

    /** Waits (up to {@code within}) until the proxy holds nothing of the closed sessions; fails if it does not. */
    public Report assertReturnedToNormal(Duration within) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        String state = state();
        while (!state.isEmpty()) {
            if (System.nanoTime() > deadline) {
                fail("the proxy did not return to normal within " + within + ": " + state);
            }
            Thread.sleep(250);
            System.gc();
            state = state();
        }
        long heapAfter = heapAfterGc();
        assertThat(heapAfter).as("heap after GC at the end (%d MiB at the start)", heapBefore >> 20)
                .isLessThanOrEqualTo(heapBefore + HEAP_SLACK_BYTES);
        return new Report(heapBefore, heapAfter, watched.size());
    }

    /** What is still held, or "" when nothing is. */
    private String state() {
        List<String> held = new ArrayList<>();
        int registered = proxy.server().registry().size();
        if (registered != 0) {
            held.add(registered + " sessions registered");
        }
        Map<String, Integer> perBackend = proxy.server().router().backends().keySet().stream()
                .collect(Collectors.toMap(b -> b, b -> proxy.server().router().sessionCount(b)));
        if (perBackend.values().stream().anyMatch(n -> n != 0)) {
            held.add("router counts " + perBackend);
        }
        long gauge = ProxyCounters.read(proxy).connections();
        if (gauge != 0) {
            held.add("tiproxy_server_connections " + gauge);
        }
        long alive = watched.stream().filter(r -> r.get() != null).count();
        if (alive != 0) {
            held.add(alive + " of " + watched.size() + " closed sessions still reachable");
        }
        return String.join("; ", held);
    }

    private static long heapAfterGc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
