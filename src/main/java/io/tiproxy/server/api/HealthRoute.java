package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * {@code GET /api/debug/health}: 200 {@code {"status":"ok","config_checksum":"..."}} while the
 * proxy takes sessions, 503 {@code {"status":"unhealthy","reason":"...","config_checksum":"..."}}
 * otherwise (e.g. while shutting down), so load balancers stop sending new clients. With discovery from
 * etcd, {@code "discovery"} says whether etcd answers ({@code "connected"}) or not ({@code "unreachable: ..."});
 * an unreachable etcd does not make the proxy unhealthy, since it keeps routing with the last known topology.
 */
public final class HealthRoute implements ApiRoute {

    /**
     * The proxy's health at one moment.
     *
     * @param healthy        whether new sessions are welcome
     * @param reason         why not, when unhealthy; empty otherwise
     * @param configChecksum {@code TiProxyConfig.checksum()} of the config in force
     * @param discovery      state of topology discovery, or null with a static backend list
     */
    public record HealthStatus(boolean healthy, String reason, String configChecksum, String discovery) {
        public HealthStatus {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(configChecksum, "configChecksum");
        }

        public HealthStatus(boolean healthy, String reason, String configChecksum) {
            this(healthy, reason, configChecksum, null);
        }

        public static HealthStatus ok(String configChecksum) {
            return new HealthStatus(true, "", configChecksum);
        }

        public static HealthStatus unhealthy(String reason, String configChecksum) {
            return new HealthStatus(false, reason, configChecksum);
        }
    }

    private final Supplier<HealthStatus> health;

    public HealthRoute(Supplier<HealthStatus> health) {
        this.health = Objects.requireNonNull(health, "health");
    }

    @Override
    public HttpMethod method() {
        return HttpMethod.GET;
    }

    @Override
    public String pattern() {
        return "/api/debug/health";
    }

    @Override
    public ApiResponse handle(ApiRequest request) {
        HealthStatus status = health.get();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", status.healthy() ? "ok" : "unhealthy");
        if (!status.healthy()) {
            body.put("reason", status.reason());
        }
        body.put("config_checksum", status.configChecksum());
        if (status.discovery() != null) {
            body.put("discovery", status.discovery());
        }
        return ApiResponse.json(status.healthy() ? 200 : 503, body);
    }
}
