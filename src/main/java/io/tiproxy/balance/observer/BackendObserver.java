package io.tiproxy.balance.observer;

import io.tiproxy.discovery.BackendSource;
import io.tiproxy.discovery.DiscoveredBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Which backends exist and which may take sessions: combines a {@link BackendSource}, a
 * {@link HealthChecker} and drain requests (operator, {@code fail-backend-list}) into one
 * {@link BackendInfo} per backend, with the transitions of {@link BackendState} (an illegal one
 * throws {@link IllegalStateException}). Every change of state is a {@link BackendEvent}, delivered
 * in order on the observer's one thread.
 *
 * <ul>
 *   <li>A newly discovered backend starts UNHEALTHY ("not checked yet") and is checked at once; its
 *       first good check makes it HEALTHY. With health checks disabled (interval 0) it starts HEALTHY.</li>
 *   <li>Each backend is checked every {@link ObserverSettings#interval()}; see {@link HealthTracker}
 *       for the thresholds. {@link #updateSettings} changes them while the observer runs.</li>
 *   <li>A drained backend is DRAINING whatever its health; undrained, it goes back to what health says.
 *       Drains are kept by address while the backend is gone, until it is forgotten.</li>
 *   <li>A backend gone from discovery is REMOVED and stays listed so for about a minute, then is
 *       forgotten (no event). Discovered again, it starts over as a new backend.</li>
 * </ul>
 *
 * <p>All public methods may be called from any thread; {@link #drain}, {@link #undrain} and
 * {@link #setFailBackendList} return after the change (and its events) happened. Takes ownership of
 * the source and the checker: {@link #close()} closes both.
 */
public final class BackendObserver implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackendObserver.class);
    static final Duration REMOVED_RETENTION = Duration.ofMinutes(1);
    static final String DRAINED_BY_CONFIG = "in fail-backend-list";
    static final String DRAINED_BY_OPERATOR = "drained by operator";
    static final String GONE = "gone from discovery";
    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);

    private final BackendSource source;
    private final HealthChecker checker;
    private final Duration removedRetention;
    private final Clock clock;
    private final ObserverThread thread;
    private final HealthCheckLoop checks;
    private final EventDispatcher events = new EventDispatcher();
    private final AtomicBoolean started = new AtomicBoolean();

    // confined to the observer thread
    private final Map<String, BackendEntry> entries = new TreeMap<>();
    private final Map<String, String> operatorDrains = new HashMap<>();
    private Set<String> failList = Set.of();

    private volatile Map<String, BackendInfo> snapshot = Map.of();

    public BackendObserver(BackendSource source, HealthChecker checker, ObserverSettings settings) {
        this(source, checker, settings, REMOVED_RETENTION, Clock.systemUTC());
    }

    BackendObserver(BackendSource source, HealthChecker checker, ObserverSettings settings,
                    Duration removedRetention, Clock clock) {
        this.source = Objects.requireNonNull(source, "source");
        this.checker = Objects.requireNonNull(checker, "checker");
        Objects.requireNonNull(settings, "settings");
        this.removedRetention = Objects.requireNonNull(removedRetention, "removedRetention");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.thread = new ObserverThread("backend-observer");
        this.checks = new HealthCheckLoop(checker, settings, thread, this::reconcile);
    }

    /** Starts discovery, checks and the clean-up of removed backends. */
    public void start() {
        if (started.getAndSet(true)) {
            throw new IllegalStateException("backend observer already started");
        }
        long sweep = Math.max(50, Math.min(removedRetention.toMillis() / 4, 10_000));
        thread.scheduleAtFixedRate(this::forgetOldRemoved, sweep, sweep);
        source.start(backends -> thread.execute(() -> onDiscovered(backends)));
    }

    /** Every known backend (REMOVED ones for about a minute), by address; immutable. */
    public Map<String, BackendInfo> snapshot() {
        return snapshot;
    }

    /** The HEALTHY backends, by address. */
    public List<BackendInfo> healthyBackends() {
        return snapshot.values().stream().filter(b -> b.state() == BackendState.HEALTHY).toList();
    }

    /**
     * Delivers every later event to {@code listener} on the observer thread, in order. It first gets one
     * event with {@code previous == null} per backend known now (REMOVED ones excepted), so it needs no
     * separate snapshot. Close the returned handle to stop.
     */
    public Subscription subscribe(Consumer<BackendEvent> listener) {
        Objects.requireNonNull(listener, "listener");
        thread.execute(() -> events.subscribe(listener, entries.values().stream()
                .filter(e -> e.info != null && !e.removed())
                .map(e -> new BackendEvent(null, e.info))
                .toList()));
        return () -> thread.execute(() -> events.unsubscribe(listener));
    }

    /** Drains a backend (no new sessions; its sessions move away). False if no such backend is known. */
    public boolean drain(String address, String reason) {
        String why = reason == null || reason.isBlank() ? DRAINED_BY_OPERATOR : reason;
        return thread.call(() -> {
            BackendEntry entry = entries.get(address);
            if (entry == null || entry.removed()) {
                return false;
            }
            operatorDrains.put(address, why);
            reconcile(entry);
            return true;
        }, CALL_TIMEOUT, false);
    }

    /** Lifts an operator drain (a listing in fail-backend-list still drains). False if no such backend is known. */
    public boolean undrain(String address) {
        return thread.call(() -> {
            operatorDrains.remove(address);
            BackendEntry entry = entries.get(address);
            if (entry == null || entry.removed()) {
                return false;
            }
            reconcile(entry);
            return true;
        }, CALL_TIMEOUT, false);
    }

    /** Drains the listed backends (also ones discovered later) and undrains those no longer listed. */
    public void setFailBackendList(Collection<String> addresses) {
        Set<String> next = Set.copyOf(addresses);
        thread.call(() -> {
            failList = next;
            entries.values().stream().filter(e -> !e.removed()).forEach(this::reconcile);
            return true;
        }, CALL_TIMEOUT, false);
    }

    /**
     * New check settings (a config reload of {@code health-check.*} or of the service account), effective
     * from each backend's next check; see {@link HealthCheckLoop#reconfigure}. Turning checks off
     * (interval 0) makes every backend HEALTHY at once. Returns after the change.
     */
    public void updateSettings(ObserverSettings next) {
        Objects.requireNonNull(next, "settings");
        thread.call(() -> {
            List<BackendEntry> live = entries.values().stream().filter(e -> !e.removed()).toList();
            checks.reconfigure(next, live);
            live.forEach(this::reconcile);
            return true;
        }, CALL_TIMEOUT, false);
    }

    /** The check settings in force. */
    public ObserverSettings settings() {
        return checks.settings();
    }

    /** Whether discovery currently reaches its store (etcd); the last known backends stay meanwhile. */
    public boolean discoveryConnected() {
        return source.connected();
    }

    /** Discovery's last error while it cannot reach its store. */
    public Optional<String> discoveryError() {
        return source.lastError();
    }

    /** Stops checks and discovery; closes the source and the checker. */
    @Override
    public void close() {
        thread.shutdown();
        source.close();
        checker.close();
    }

    // ---- on the observer thread ----

    private void onDiscovered(Map<String, DiscoveredBackend> backends) {
        for (DiscoveredBackend backend : backends.values()) {
            BackendEntry entry = entries.get(backend.address());
            if (entry == null) {
                entry = new BackendEntry(backend, checks.newTracker());
                entries.put(entry.address, entry);
                arrive(entry);
            } else if (entry.removed()) {
                entry.backend = backend;
                entry.health = checks.newTracker();
                entry.generation++;
                entry.removedAt = null;
                arrive(entry);
            } else if (!entry.backend.equals(backend)) {
                entry.backend = backend;
                BackendInfo i = entry.info;
                entry.info = new BackendInfo(i.address(), i.state(), i.reason(), backend.statusPort(), backend.labels(), i.since());
                publish();
            }
        }
        for (BackendEntry entry : entries.values()) {
            if (!entry.removed() && !backends.containsKey(entry.address)) {
                entry.generation++;
                entry.removedAt = clock.instant();
                moveTo(entry, BackendState.REMOVED, GONE);
            }
        }
    }

    /** A backend appears (new or again): its health state first, then DRAINING if it is drained. */
    private void arrive(BackendEntry entry) {
        boolean fresh = entry.info == null;
        String drain = drainReason(entry.address);
        if (fresh && drain != null) {
            moveTo(entry, BackendState.DRAINING, drain);
        } else {
            moveTo(entry, healthState(entry), entry.health.reason());
            reconcile(entry);
        }
        checks.start(entry);
    }

    private void reconcile(BackendEntry entry) {
        String drain = drainReason(entry.address);
        if (drain != null) {
            moveTo(entry, BackendState.DRAINING, drain);
        } else {
            moveTo(entry, healthState(entry), entry.health.reason());
        }
    }

    private void moveTo(BackendEntry entry, BackendState next, String reason) {
        BackendInfo previous = entry.info;
        if (previous != null && previous.state() == next) {
            if (!previous.reason().equals(reason)) {
                entry.info = new BackendInfo(previous.address(), next, reason, previous.statusPort(), previous.labels(),
                        previous.since());
                publish();
            }
            return;
        }
        if (previous != null) {
            previous.state().checkMoveTo(next);
        }
        entry.info = new BackendInfo(entry.address, next, reason, entry.backend.statusPort(), entry.backend.labels(),
                clock.instant());
        publish();
        log.info("backend {}: {} -> {}{}", entry.address, previous == null ? "(new)" : previous.state(), next,
                reason.isEmpty() ? "" : " (" + reason + ")");
        events.post(new BackendEvent(previous, entry.info));
    }

    private void forgetOldRemoved() {
        boolean changed = false;
        for (Iterator<BackendEntry> it = entries.values().iterator(); it.hasNext(); ) {
            BackendEntry entry = it.next();
            if (entry.removed() && !clock.instant().isBefore(entry.removedAt.plus(removedRetention))) {
                it.remove();
                operatorDrains.remove(entry.address);
                changed = true;
            }
        }
        if (changed) {
            publish();
        }
    }

    private BackendState healthState(BackendEntry entry) {
        return entry.health.healthy() ? BackendState.HEALTHY : BackendState.UNHEALTHY;
    }

    private String drainReason(String address) {
        String operator = operatorDrains.get(address);
        if (operator != null) {
            return operator;
        }
        return failList.contains(address) ? DRAINED_BY_CONFIG : null;
    }

    private void publish() {
        Map<String, BackendInfo> next = new TreeMap<>();
        entries.forEach((address, entry) -> {
            if (entry.info != null) {
                next.put(address, entry.info);
            }
        });
        snapshot = Collections.unmodifiableMap(next);
    }

    /** Stops delivery to one subscriber. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}
