package io.tiproxy.proxy;

import ch.qos.logback.classic.Level;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.tiproxy.testkit.LogCapture;

import java.util.List;

import static org.assertj.core.api.Assertions.fail;

/**
 * Netty's ByteBuf leak detector, watched through its log (the in-process proxy allocates from the
 * JVM's default allocator). The detector reports a leaked buffer only after the garbage collector
 * has found it and a later allocation looks, so {@link #leaks()} collects and allocates a few times;
 * {@link #assertDetectorWorks()} first leaks a canary buffer on purpose and waits for its report,
 * which proves that a leak would be seen in this JVM at all.
 */
final class LeakCheck implements AutoCloseable {
    private static final String CANARY_METHOD = "leakCanaryBuffer";

    private final LogCapture capture = LogCapture.of(ResourceLeakDetector.class);

    private LeakCheck() {
    }

    /** Starts watching, with every buffer tracked (paranoid level). */
    static LeakCheck start() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        return new LeakCheck();
    }

    /** Leaks one buffer and waits (up to 30 s) for the detector to report it. */
    void assertDetectorWorks() throws InterruptedException {
        leakCanaryBuffer();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (System.nanoTime() < deadline) {
            provoke();
            if (reports().stream().anyMatch(m -> m.contains(CANARY_METHOD))) {
                return;
            }
            Thread.sleep(100);
        }
        fail("Netty's leak detector did not report a buffer leaked on purpose within 30 s; "
                + "the leak check cannot be trusted (level " + ResourceLeakDetector.getLevel() + ")");
    }

    private static void leakCanaryBuffer() {
        ByteBuf canary = ByteBufAllocator.DEFAULT.directBuffer(16);
        canary.writeLong(42);
        // dropped without release(): the detector must report it, naming this method
    }

    /** Leak reports other than the canary's, after a few rounds of collection and allocation. */
    List<String> leaks() throws InterruptedException {
        for (int round = 0; round < 5; round++) {
            provoke();
            Thread.sleep(200);
        }
        return reports().stream().filter(m -> !m.contains(CANARY_METHOD)).toList();
    }

    private List<String> reports() {
        return capture.messages(Level.ERROR).stream().filter(m -> m.contains("LEAK")).toList();
    }

    private static void provoke() {
        System.gc();
        for (int i = 0; i < 200; i++) {
            ByteBufAllocator.DEFAULT.directBuffer(8).release();
            ByteBufAllocator.DEFAULT.heapBuffer(8).release();
        }
    }

    @Override
    public void close() {
        capture.close();
    }
}
