package io.tiproxy.proxy.client;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Whether a TiDB backend can take part in session migration, as TiProxy's health check decides it:
 * {@code GET /config} on the status port, at most once a minute per backend; an empty
 * {@code security.session-token-signing-cert} means it cannot (TIDB-FACTS "Status port"). Like TiProxy,
 * a backend whose config cannot be read is assumed able; unlike TiProxy, a backend that later gets a
 * certificate becomes able again at the next check.
 *
 * <p>Not wired yet: it needs each backend's status address from discovery (etcd topology
 * {@code info.status_port}); static backends have none and are always assumed able. Thread-safe; the
 * check runs asynchronously and {@link #supportsMigration} never blocks.
 */
public final class TiDbReadiness {
    public static final Duration CHECK_INTERVAL = Duration.ofMinutes(1);
    static final String CONFIG_PATH = "/config";

    private record Known(boolean able, Instant checkedAt, boolean inFlight) {}

    private final HttpClient http;
    private final Clock clock;
    private final Duration timeout;
    private final ObjectMapper json = new ObjectMapper();
    private final ConcurrentMap<String, Known> byStatusAddress = new ConcurrentHashMap<>();

    public TiDbReadiness(HttpClient http, Clock clock, Duration timeout) {
        this.http = http;
        this.clock = clock;
        this.timeout = timeout;
    }

    /**
     * The last known answer for a backend's status address ({@code host:port}, or null for a backend
     * without status port); starts a new check when the last one is older than a minute.
     */
    public boolean supportsMigration(String statusAddress) {
        if (statusAddress == null) {
            return true;
        }
        Instant now = clock.instant();
        Known known = byStatusAddress.get(statusAddress);
        if (known == null || (!known.inFlight() && !known.checkedAt().plus(CHECK_INTERVAL).isAfter(now))) {
            Known running = new Known(known == null || known.able(), now, true);
            boolean won = known == null ? byStatusAddress.putIfAbsent(statusAddress, running) == null
                    : byStatusAddress.replace(statusAddress, known, running);
            if (won) {
                check(statusAddress, now);
            }
        }
        Known latest = byStatusAddress.get(statusAddress);
        return latest == null || latest.able();
    }

    /** A backend that left: its answer is dropped. */
    public void forget(String statusAddress) {
        byStatusAddress.remove(statusAddress);
    }

    private void check(String statusAddress, Instant startedAt) {
        HttpRequest request = HttpRequest.newBuilder(URI.create("http://" + statusAddress + CONFIG_PATH))
                .timeout(timeout).GET().build();
        http.sendAsync(request, HttpResponse.BodyHandlers.ofString()).whenComplete((resp, error) -> {
            Known previous = byStatusAddress.get(statusAddress);
            boolean able = previous == null || previous.able();
            if (error == null && resp.statusCode() == 200) {
                Boolean parsed = hasSigningCert(resp.body());
                if (parsed != null) {
                    able = parsed;
                }
            }
            byStatusAddress.put(statusAddress, new Known(able, startedAt, false));
        });
    }

    /** True/false from a /config body, null if the body says nothing usable. */
    Boolean hasSigningCert(String body) {
        try {
            JsonNode cert = json.readTree(body).path("security").path("session-token-signing-cert");
            return cert.isMissingNode() || cert.isNull() ? Boolean.FALSE : !cert.asText().isEmpty();
        } catch (Exception e) {
            return null;
        }
    }
}
