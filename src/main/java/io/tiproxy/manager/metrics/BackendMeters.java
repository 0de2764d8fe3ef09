package io.tiproxy.manager.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.tiproxy.protocol.Command;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * The meters of one backend, created once and then only updated: per-command query counters and
 * duration histograms (created on a command's first use), the handshake histogram and the traffic
 * totals. Updating allocates nothing and takes no lock.
 *
 * <p>TiProxy's traffic counters have no {@code _total} suffix ({@code tiproxy_traffic_inbound_bytes}),
 * which Micrometer cannot render for a counter; they are exposed as gauges over a running total under
 * TiProxy's exact names, so {@code rate(tiproxy_traffic_inbound_bytes[1m])} works as it does there.
 */
final class BackendMeters {
    static final String QUERY = "tiproxy.session.query";
    static final String QUERY_DURATION = "tiproxy.session.query_duration";
    static final String HANDSHAKE_DURATION = "tiproxy.session.handshake_duration";
    static final String INBOUND_BYTES = "tiproxy.traffic.inbound_bytes";
    static final String OUTBOUND_BYTES = "tiproxy.traffic.outbound_bytes";

    /** TiProxy's buckets for query and handshake durations: 0.5 ms doubling 29 times (~1.5 days). */
    static final Duration[] SESSION_BUCKETS = exponentialBuckets(Duration.ofNanos(500_000), 29);

    private final String backend;
    private final MeterRegistry registry;
    private final AtomicReferenceArray<Counter> queries = new AtomicReferenceArray<>(Command.values().length);
    private final AtomicReferenceArray<Timer> durations = new AtomicReferenceArray<>(Command.values().length);
    private final Timer handshake;
    private final LongAdder inbound = new LongAdder();
    private final LongAdder outbound = new LongAdder();

    BackendMeters(String backend, MeterRegistry registry) {
        this.backend = backend;
        this.registry = registry;
        this.handshake = Timer.builder(HANDSHAKE_DURATION)
                .description("Bucketed histogram of processing time (s) of handshakes.")
                .tag("backend", backend)
                .serviceLevelObjectives(SESSION_BUCKETS)
                .register(registry);
        Gauge.builder(INBOUND_BYTES, inbound, LongAdder::sum)
                .description("Counter of bytes from backends.")
                .tag("backend", backend).strongReference(true).register(registry);
        Gauge.builder(OUTBOUND_BYTES, outbound, LongAdder::sum)
                .description("Counter of bytes to backends.")
                .tag("backend", backend).strongReference(true).register(registry);
    }

    void queryDone(Command command, long nanos) {
        int i = command.ordinal();
        Counter counter = queries.get(i);
        Timer timer = durations.get(i);
        if (counter == null || timer == null) {
            counter = registerQueryCounter(command);
            timer = registerQueryTimer(command);
        }
        counter.increment();
        timer.record(nanos, TimeUnit.NANOSECONDS);
    }

    // Micrometer returns the same meter for the same name and tags, so a race here registers nothing twice.
    private Counter registerQueryCounter(Command command) {
        Counter counter = Counter.builder(QUERY)
                .description("Counter of queries.")
                .tag("backend", backend).tag("cmd_type", MetricLabels.commandType(command))
                .register(registry);
        queries.set(command.ordinal(), counter);
        return counter;
    }

    private Timer registerQueryTimer(Command command) {
        Timer timer = Timer.builder(QUERY_DURATION)
                .description("Bucketed histogram of processing time (s) of handled queries.")
                .tag("backend", backend).tag("cmd_type", MetricLabels.commandType(command))
                .serviceLevelObjectives(SESSION_BUCKETS)
                .register(registry);
        durations.set(command.ordinal(), timer);
        return timer;
    }

    void handshakeDone(long nanos) {
        handshake.record(nanos, TimeUnit.NANOSECONDS);
    }

    void traffic(long fromBackend, long toBackend) {
        inbound.add(fromBackend);
        outbound.add(toBackend);
    }

    /** {@code first}, then doubling, {@code count} boundaries in all (Prometheus' ExponentialBuckets). */
    static Duration[] exponentialBuckets(Duration first, int count) {
        Duration[] buckets = new Duration[count];
        long nanos = first.toNanos();
        for (int i = 0; i < count; i++) {
            buckets[i] = Duration.ofNanos(nanos << i);
        }
        return buckets;
    }
}
