package io.tiproxy.proxy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.discovery.DiscoveredBackend;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Whether each TiDB backend can take part in session migration, decided as TiProxy's health check does:
 * {@code GET /config} on its status port, at most once a minute per backend; an empty or missing
 * {@code security.session-token-signing-cert} means it cannot sign or check session tokens
 * (TIDB-FACTS "Status port"). Sessions never move to or from such a backend: moving from it would fail
 * on a NULL token (or error 8146), moving to it on a refused token login, and either way the proxy would
 * only find out after a round of work on a live session.
 *
 * <p>Like TiProxy, a backend whose config cannot be read keeps its last answer (able, if it never
 * answered), and a backend is checked again a minute later, so one that gets a certificate becomes able
 * again. Unlike
 * TiProxy, which moves no session at all while any backend lacks the certificate, readiness here is per
 * backend: sessions still move among the backends that have it.
 *
 * <p>Backends without a status port (static list, MySQL/MariaDB) are never checked and always able.
 * Checks run on a thread of their own, asynchronously; {@link #whyNotReady} and {@link #notReady} never
 * block and may be called from any thread.
 */
public final class TiDbReadiness implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TiDbReadiness.class);

    /** TiProxy's {@code checkSigningCertInterval}. */
    public static final Duration CHECK_INTERVAL = Duration.ofMinutes(1);
    static final String CONFIG_PATH = "/config";
    private static final Duration TICK = Duration.ofSeconds(1);

    /** The last answer for one backend; {@code reason} is null when it can migrate. */
    private record Known(String statusAddress, String reason, Instant checkedAt, boolean inFlight) {}

    private final Supplier<Map<String, String>> statusAddresses;
    private final HttpClient http;
    private final Clock clock;
    private final Duration timeout;
    private final ScheduledExecutorService thread;
    private final ObjectMapper json = new ObjectMapper();
    /** By SQL address, the key everywhere in the proxy. */
    private final ConcurrentMap<String, Known> known = new ConcurrentHashMap<>();

    /**
     * @param statusAddresses the backends to watch now: SQL address -> status address ({@code host:port}),
     *                        only those with a TiDB status port; read at every tick
     * @param clock           decides when a backend is due again
     * @param timeout         bound on one {@code GET /config}
     */
    public TiDbReadiness(Supplier<Map<String, String>> statusAddresses, Clock clock, Duration timeout) {
        this.statusAddresses = statusAddresses;
        this.clock = clock;
        this.timeout = timeout;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tidb-readiness");
            t.setDaemon(true);
            return t;
        });
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // TiDB's Go status server speaks no h2c
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(timeout)
                .build();
    }

    /**
     * SQL address -> status address ({@code host:status_port}) of every backend that is not REMOVED and
     * has a TiDB status port from the topology: what the readiness check watches.
     */
    public static Map<String, String> statusAddresses(Collection<BackendInfo> backends) {
        Map<String, String> out = new LinkedHashMap<>();
        for (BackendInfo b : backends) {
            if (b.statusPort() > 0 && b.state() != BackendState.REMOVED) {
                String host = DiscoveredBackend.ofAddress(b.address()).host();
                out.put(b.address(), (host.contains(":") ? "[" + host + "]" : host) + ":" + b.statusPort());
            }
        }
        return out;
    }

    /** Checks every backend soon after it appears and again once a minute, until {@link #close()}. */
    public void start() {
        thread.scheduleWithFixedDelay(this::refresh, 0, TICK.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Why sessions cannot move to or from {@code sqlAddress}, or null when they can (or it is not known
     * yet, or it is not a TiDB with a status port).
     */
    public String whyNotReady(String sqlAddress) {
        Known k = known.get(sqlAddress);
        return k == null ? null : k.reason();
    }

    /** Every backend known to be unable to migrate sessions now, with why; by SQL address. */
    public Map<String, String> notReady() {
        Map<String, String> out = new LinkedHashMap<>();
        known.forEach((address, k) -> {
            if (k.reason() != null) {
                out.put(address, k.reason());
            }
        });
        return out;
    }

    /** One round: drops backends that left, starts a check of each one that is new or due. */
    private void refresh() {
        Map<String, String> now;
        try {
            now = statusAddresses.get();
        } catch (RuntimeException e) {
            log.debug("tidb readiness: cannot list backends: {}", e.toString());
            return;
        }
        known.keySet().retainAll(now.keySet());
        Instant t = clock.instant();
        now.forEach((sqlAddress, statusAddress) -> {
            Known k = known.get(sqlAddress);
            boolean due = k == null || !k.statusAddress().equals(statusAddress)
                    || (!k.inFlight() && !k.checkedAt().plus(CHECK_INTERVAL).isAfter(t));
            if (!due) {
                return;
            }
            // a new backend, or one whose status port changed, starts as "able" (TiProxy's assumption)
            String previous = k == null || !k.statusAddress().equals(statusAddress) ? null : k.reason();
            Known running = new Known(statusAddress, previous, t, true);
            boolean won = k == null ? known.putIfAbsent(sqlAddress, running) == null : known.replace(sqlAddress, k, running);
            if (won) {
                check(sqlAddress, running);
            }
        });
    }

    private void check(String sqlAddress, Known running) {
        String url = "http://" + running.statusAddress() + CONFIG_PATH;
        HttpRequest request;
        try {
            request = HttpRequest.newBuilder(URI.create(url)).timeout(timeout).GET().build();
        } catch (IllegalArgumentException e) {
            finish(sqlAddress, running, running.reason(), "bad status address: " + e.getMessage());
            return;
        }
        http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((resp, error) -> {
            if (error != null) {
                finish(sqlAddress, running, running.reason(), error.toString());
            } else if (resp.statusCode() != 200) {
                finish(sqlAddress, running, running.reason(), "HTTP " + resp.statusCode());
            } else {
                Boolean has = hasSigningCert(resp.body());
                if (has == null) {
                    finish(sqlAddress, running, running.reason(), "the body is not JSON");
                } else {
                    finish(sqlAddress, running, has ? null : "TiDB " + sqlAddress + " has no session-token signing "
                            + "certificate (security.session-token-signing-cert is empty in " + url + ")", null);
                }
            }
        });
    }

    /** Records a check's outcome; {@code failure} is why /config could not be read (the reason then stays). */
    private void finish(String sqlAddress, Known running, String reason, String failure) {
        Known done = new Known(running.statusAddress(), reason, running.checkedAt(), false);
        if (!known.replace(sqlAddress, running, done)) {
            return; // the backend left or changed meanwhile
        }
        if (failure != null) {
            log.debug("tidb readiness: cannot read the config of {} ({}); keeping: {}", sqlAddress, failure,
                    reason == null ? "can migrate" : reason);
        } else if (reason != null && running.reason() == null) {
            log.warn("{}: sessions will not migrate to or from it until it has one; set "
                    + "session-token-signing-cert and -key in its config.toml (tiproxyctl cert generate)", reason);
        } else if (reason == null && running.reason() != null) {
            log.info("TiDB {} now has a session-token signing certificate: its sessions can migrate again", sqlAddress);
        }
    }

    /** True/false from a /config body, null if the body is not a JSON object. */
    Boolean hasSigningCert(String body) {
        try {
            JsonNode root = json.readTree(body);
            if (root == null || !root.isObject()) {
                return null;
            }
            JsonNode cert = root.path("security").path("session-token-signing-cert");
            return cert.isTextual() && !cert.asText().isEmpty();
        } catch (Exception e) {
            return null;
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
    }
}
