package io.tiproxy.manager.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MultiGauge;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.core.instrument.config.MeterFilter;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.RejectReason;
import io.tiproxy.proxy.SessionEvents;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * The proxy's Prometheus metrics, under TiProxy's names and labels (pingcap/tiproxy {@code pkg/metrics})
 * so its Grafana dashboard and alert rules work unchanged:
 * <pre>
 * tiproxy_server_connections                        gauge
 * tiproxy_server_create_connection_total            counter
 * tiproxy_server_disconnection_total{type}          counter  (type: see MetricLabels.disconnectType)
 * tiproxy_server_reject_connection_total{type}      counter  (type: max_connections, memory)
 * tiproxy_session_query_total{backend,cmd_type}     counter  (cmd_type: Query, StmtExecute, ...)
 * tiproxy_session_query_duration_seconds{backend,cmd_type}   histogram
 * tiproxy_session_handshake_duration_seconds{backend}        histogram
 * tiproxy_balance_b_conn{backend}                   gauge    (sessions per backend)
 * tiproxy_balance_migrate_total{from,to,reason,migrate_res}  counter  (migrate_res: succeed, fail)
 * tiproxy_balance_migrate_duration_seconds{from,to,migrate_res}  histogram
 * tiproxy_balance_b_score{backend,factor}           gauge    (each balance factor's score of each backend; 0 best)
 * tiproxy_balance_pending_migrate{from,to,reason}   gauge    (migrations asked for by the router, not finished)
 * tiproxy_backend_b_status{backend}                 gauge    (1 healthy, 0 not)
 * tiproxy_backend_health_check_seconds              gauge    (last health-check cycle)
 * tiproxy_backend_ping_duration_seconds{backend}    gauge
 * tiproxy_traffic_inbound_bytes{backend}            bytes from backends (see BackendMeters)
 * tiproxy_traffic_outbound_bytes{backend}           bytes to backends
 * </pre>
 * plus Micrometer's JVM and process meters ({@code jvm_*}, {@code process_*}, {@code system_*}), with
 * {@code process_cpu_seconds_total} as Prometheus' own process collector names it (TiProxy's dashboard
 * uses it) instead of Micrometer's {@code process_cpu_time_ns_total}.
 * Timers also export Micrometer's {@code *_seconds_max} gauge.
 *
 * <p>One instance per proxy, built by the composition root; it owns its registry (no global one).
 * The per-event methods are safe from any thread and cheap enough for event loops: after a backend's
 * and a command's first use they only look up cached meters and allocate nothing. Migrations
 * ({@link #migrated}) are rare and look their meters up each time.
 */
public final class ProxyMetrics implements SessionEvents, AutoCloseable {
    static final Duration[] MIGRATE_BUCKETS = BackendMeters.exponentialBuckets(Duration.ofNanos(100_000), 26);

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gcMetrics = new JvmGcMetrics();
    private final AtomicInteger connections = new AtomicInteger();
    private final Counter created;
    private final Map<ErrorSource, Counter> disconnections = new EnumMap<>(ErrorSource.class);
    private final Map<RejectReason, Counter> rejections = new EnumMap<>(RejectReason.class);
    private final ConcurrentHashMap<String, BackendMeters> backends = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, AtomicLong> pingNanos = new ConcurrentHashMap<>();
    private final AtomicLong healthCheckNanos = new AtomicLong();
    private final Supplier<Map<String, Integer>> sessionsPerBackend;
    private final Supplier<Map<String, Boolean>> backendHealthy;
    private final MultiGauge sessionsGauge;
    private final MultiGauge statusGauge;
    private final Supplier<Map<String, Map<String, Integer>>> balanceScores;
    private final Supplier<List<PendingMigration>> pendingMigrations;
    private final MultiGauge scoreGauge;
    private final MultiGauge pendingGauge;

    /** {@code count} migrations from {@code from} to {@code to} for {@code reason} are asked for and not finished. */
    public record PendingMigration(String from, String to, String reason, int count) {}

    /**
     * @param sessionsPerBackend sessions on each backend ("host:port"), read at every scrape
     * @param backendHealthy     whether each known backend is healthy, read at every scrape
     */
    public ProxyMetrics(Supplier<Map<String, Integer>> sessionsPerBackend, Supplier<Map<String, Boolean>> backendHealthy) {
        this(sessionsPerBackend, backendHealthy, Map::of, List::of);
    }

    /**
     * @param balanceScores     each backend's score by each balance factor (backend -> factor -> score), read at every scrape
     * @param pendingMigrations the router's migrations in flight, read at every scrape
     */
    public ProxyMetrics(Supplier<Map<String, Integer>> sessionsPerBackend, Supplier<Map<String, Boolean>> backendHealthy,
                        Supplier<Map<String, Map<String, Integer>>> balanceScores,
                        Supplier<List<PendingMigration>> pendingMigrations) {
        // before any meter is registered (Micrometer warns otherwise): names promtool's lint refuses
        // (abbreviated unit, "_count" on a gauge); CPU time is re-added in bindJvmMeters
        registry.config().meterFilter(MeterFilter.denyNameStartsWith("process.cpu.time"))
                .meterFilter(MeterFilter.denyNameStartsWith("system.cpu.count"));
        this.sessionsPerBackend = Objects.requireNonNull(sessionsPerBackend, "sessionsPerBackend");
        this.backendHealthy = Objects.requireNonNull(backendHealthy, "backendHealthy");
        this.balanceScores = Objects.requireNonNull(balanceScores, "balanceScores");
        this.pendingMigrations = Objects.requireNonNull(pendingMigrations, "pendingMigrations");
        Gauge.builder("tiproxy.server.connections", connections, AtomicInteger::get)
                .description("Number of connections.").strongReference(true).register(registry);
        created = Counter.builder("tiproxy.server.create_connection")
                .description("Number of create connections.").register(registry);
        for (ErrorSource source : ErrorSource.values()) {
            disconnections.put(source, Counter.builder("tiproxy.server.disconnection")
                    .description("Number of disconnections.")
                    .tag("type", MetricLabels.disconnectType(source)).register(registry));
        }
        for (RejectReason reason : RejectReason.values()) {
            rejections.put(reason, Counter.builder("tiproxy.server.reject_connection")
                    .description("Number of rejected connections.")
                    .tag("type", MetricLabels.rejectType(reason)).register(registry));
        }
        Gauge.builder("tiproxy.backend.health_check_seconds", healthCheckNanos, n -> n.get() / 1e9)
                .description("Time (s) of each health check cycle.").strongReference(true).register(registry);
        sessionsGauge = MultiGauge.builder("tiproxy.balance.b_conn")
                .description("Number of backend connections.").register(registry);
        statusGauge = MultiGauge.builder("tiproxy.backend.b_status")
                .description("Gauge of backend status.").register(registry);
        scoreGauge = MultiGauge.builder("tiproxy.balance.b_score")
                .description("Gauge of backend scores.").register(registry);
        pendingGauge = MultiGauge.builder("tiproxy.balance.pending_migrate")
                .description("Number of pending session migration.").register(registry);
        bindJvmMeters();
    }

    private void bindJvmMeters() {
        new JvmMemoryMetrics().bindTo(registry);
        gcMetrics.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            FunctionCounter.builder("process.cpu", os, o -> o.getProcessCpuTime() / 1e9)
                    .description("Total user and system CPU time spent in seconds.")
                    .baseUnit("seconds").register(registry);
        }
    }

    /** A client connection was accepted. Call {@link #connectionClosed} exactly once for each. */
    public void connectionOpened() {
        created.increment();
        connections.incrementAndGet();
    }

    /** A new client was refused before its handshake, for {@code reason}. */
    @Override
    public void connectionRejected(RejectReason reason) {
        rejections.get(reason).increment();
    }

    /** A client connection ended, for {@code source}. */
    public void connectionClosed(ErrorSource source) {
        connections.decrementAndGet();
        disconnections.get(source).increment();
    }

    /** A client finished logging in through {@code backend}, {@code nanos} after it connected. */
    public void handshakeDone(String backend, long nanos) {
        meters(backend).handshakeDone(nanos);
    }

    /** A client command finished (its last response packet was forwarded), {@code nanos} after it arrived. */
    public void queryDone(Command command, String backend, long nanos) {
        meters(backend).queryDone(command, nanos);
    }

    /** Bytes relayed for a session since the last call: {@code fromBackend} read, {@code toBackend} written. */
    public void traffic(String backend, long fromBackend, long toBackend) {
        meters(backend).traffic(fromBackend, toBackend);
    }

    /** One health-check cycle over all backends took {@code nanos}. */
    public void healthCheckCycle(long nanos) {
        healthCheckNanos.set(nanos);
    }

    /** One health probe of {@code backend} took {@code nanos}. */
    public void backendPing(String backend, long nanos) {
        AtomicLong last = pingNanos.get(backend);
        if (last == null) {
            last = pingNanos.computeIfAbsent(backend, b -> {
                AtomicLong value = new AtomicLong();
                Gauge.builder("tiproxy.backend.ping_duration_seconds", value, n -> n.get() / 1e9)
                        .description("Time (s) of pinging the SQL port of each backend.")
                        .tag("backend", b).strongReference(true).register(registry);
                return value;
            });
        }
        last.set(nanos);
    }

    @Override
    public void migrated(String from, String to, String reason, boolean success, long millis) {
        String result = success ? MetricLabels.MIGRATE_SUCCEED : MetricLabels.MIGRATE_FAIL;
        String fromLabel = Objects.requireNonNullElse(from, "");
        String toLabel = Objects.requireNonNullElse(to, "");
        Counter.builder("tiproxy.balance.migrate")
                .description("Number and result of session migration.")
                .tags("from", fromLabel, "to", toLabel, "reason", Objects.requireNonNullElse(reason, ""),
                        "migrate_res", result)
                .register(registry).increment();
        Timer.builder("tiproxy.balance.migrate_duration")
                .description("Bucketed histogram of migrating time (s) of sessions.")
                .tags("from", fromLabel, "to", toLabel, "migrate_res", result)
                .serviceLevelObjectives(MIGRATE_BUCKETS)
                .register(registry).record(Duration.ofMillis(millis));
    }

    /** Forgets every series of a backend that left the topology (as TiProxy's {@code DelBackend}). */
    public void backendRemoved(String backend) {
        backends.remove(backend);
        pingNanos.remove(backend);
        List<Meter> stale = registry.getMeters().stream().filter(m -> {
            Meter.Id id = m.getId();
            return backend.equals(id.getTag("backend")) || backend.equals(id.getTag("from"))
                    || backend.equals(id.getTag("to"));
        }).toList();
        stale.forEach(registry::remove);
    }

    /** The Prometheus text exposition (format 0.0.4) of every meter, with per-backend gauges fresh. */
    public String scrape() {
        refreshBackendGauges();
        return registry.scrape();
    }

    private synchronized void refreshBackendGauges() {
        sessionsGauge.register(sessionsPerBackend.get().entrySet().stream()
                .map(e -> MultiGauge.Row.of(Tags.of("backend", e.getKey()), e.getValue()))
                .toList(), true);
        statusGauge.register(backendHealthy.get().entrySet().stream()
                .map(e -> MultiGauge.Row.of(Tags.of("backend", e.getKey()), e.getValue() ? 1 : 0))
                .toList(), true);
        scoreGauge.register(balanceScores.get().entrySet().stream()
                .flatMap(b -> b.getValue().entrySet().stream()
                        .map(f -> MultiGauge.Row.of(Tags.of("backend", b.getKey(), "factor", f.getKey()), f.getValue())))
                .toList(), true);
        pendingGauge.register(pendingMigrations.get().stream()
                .map(p -> MultiGauge.Row.of(Tags.of("from", p.from(), "to", p.to(), "reason", p.reason()), p.count()))
                .toList(), true);
    }

    private BackendMeters meters(String backend) {
        BackendMeters meters = backends.get(backend);
        return meters != null ? meters : backends.computeIfAbsent(backend, b -> new BackendMeters(b, registry));
    }

    @Override
    public void close() {
        gcMetrics.close();
        registry.close();
    }
}
