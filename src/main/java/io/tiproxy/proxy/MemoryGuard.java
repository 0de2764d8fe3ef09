package io.tiproxy.proxy;

import com.sun.management.GarbageCollectionNotificationInfo;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.management.ListenerNotFoundException;
import javax.management.Notification;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Tells whether the JVM heap is too full to take another client, as TiProxy refuses connections above
 * {@code high-memory-usage-reject-threshold} (90%).
 *
 * <p>What counts is the heap in use <em>after</em> a garbage collection: the heap in use at any other
 * moment includes garbage and reaches the limit harmlessly before every young collection. The guard
 * listens to the JVM's GC notifications and keeps the sum of the heap pools' usage after each
 * collection; a new connection only reads one volatile field. There is no polling thread and the
 * guard never asks for a collection. While it refuses, refused logins and running sessions still
 * allocate, so collections keep coming and bring the next reading.
 *
 * <p>Before the first collection there is no reading and nothing is refused.
 */
public final class MemoryGuard implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MemoryGuard.class);

    private final long heapMax;
    private final Set<String> heapPools;
    private final List<NotificationEmitter> emitters = new ArrayList<>();
    private final NotificationListener listener = this::onNotification;
    /** Heap bytes in use after the latest collection; -1 before the first. */
    private volatile long usedAfterGc = -1;

    private MemoryGuard(long heapMax, Set<String> heapPools) {
        this.heapMax = heapMax;
        this.heapPools = heapPools;
    }

    /** A guard following this JVM's collections; {@link #close()} stops listening. */
    public static MemoryGuard start() {
        long max = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getMax();
        Set<String> pools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).map(MemoryPoolMXBean::getName)
                .collect(Collectors.toUnmodifiableSet());
        MemoryGuard guard = new MemoryGuard(max, pools);
        if (max <= 0) {
            log.warn("the JVM reports no maximum heap size: proxy.max-heap-usage-percent cannot be enforced");
            return guard;
        }
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            if (gc instanceof NotificationEmitter emitter) {
                emitter.addNotificationListener(guard.listener, null, null);
                guard.emitters.add(emitter);
            }
        }
        if (guard.emitters.isEmpty()) {
            log.warn("this JVM sends no GC notifications: proxy.max-heap-usage-percent cannot be enforced");
        }
        return guard;
    }

    private void onNotification(Notification n, Object handback) {
        if (!GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            return;
        }
        GarbageCollectionNotificationInfo info = GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
        long used = 0;
        for (Map.Entry<String, MemoryUsage> pool : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
            if (heapPools.contains(pool.getKey())) {
                used += pool.getValue().getUsed();
            }
        }
        usedAfterGc = used;
    }

    /** Heap in use after the latest collection, in percent of the maximum heap; -1 when unknown. */
    public int usagePercent() {
        long used = usedAfterGc;
        if (used < 0 || heapMax <= 0) {
            return -1;
        }
        return (int) Math.min(100, used * 100 / heapMax);
    }

    /** Whether a new connection must be refused under {@code limitPercent} (0: no guard). */
    public boolean refuses(int limitPercent) {
        if (limitPercent <= 0) {
            return false;
        }
        long used = usedAfterGc;
        return used >= 0 && heapMax > 0 && used * 100 > (long) limitPercent * heapMax;
    }

    @Override
    public void close() {
        for (NotificationEmitter emitter : emitters) {
            try {
                emitter.removeNotificationListener(listener);
            } catch (ListenerNotFoundException e) {
                // already gone
            }
        }
        emitters.clear();
    }
}
