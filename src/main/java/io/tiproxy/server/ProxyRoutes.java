package io.tiproxy.server;

import io.netty.handler.codec.http.HttpMethod;
import io.tiproxy.balance.BackendRouter;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.proxy.ConnectionRegistry;
import io.tiproxy.proxy.backend.TrackingDefaults;
import io.tiproxy.proxy.client.ClientConnection;
import io.tiproxy.server.api.ApiException;
import io.tiproxy.server.api.ApiResponse;
import io.tiproxy.server.api.ApiRoute;
import io.tiproxy.server.api.SimpleRoute;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The API resources about backends, sessions and migration. */
final class ProxyRoutes {
    private ProxyRoutes() {}

    /** Drain and undrain, by whichever component owns backend states. */
    interface Drainer {
        boolean drain(String addr, String reason);

        boolean undrain(String addr);
    }

    static List<ApiRoute> create(BackendRouter router, ConnectionRegistry<ClientConnection> registry,
                                 TrackingDefaults tracking, Drainer drainer) {
        return List.of(
                new SimpleRoute(HttpMethod.GET, "/api/backends", req -> ApiResponse.ok(backends(router, tracking))),
                new SimpleRoute(HttpMethod.POST, "/api/backends/{addr}/drain", req -> {
                    String addr = req.pathParam("addr");
                    if (!drainer.drain(addr, "drained by operator")) {
                        throw ApiException.notFound("unknown backend " + addr);
                    }
                    return ApiResponse.ok(Map.of("backend", addr, "state", "draining"));
                }),
                new SimpleRoute(HttpMethod.DELETE, "/api/backends/{addr}/drain", req -> {
                    String addr = req.pathParam("addr");
                    if (!drainer.undrain(addr)) {
                        throw ApiException.notFound("unknown backend " + addr);
                    }
                    return ApiResponse.ok(Map.of("backend", addr, "state", "undrained"));
                }),
                new SimpleRoute(HttpMethod.POST, "/api/debug/redirect", req ->
                        ApiResponse.ok(Map.of("redirected", router.redirectAll("operator redirect")))),
                new SimpleRoute(HttpMethod.GET, "/api/sessions", req -> ApiResponse.ok(sessions(registry))));
    }

    private static List<Map<String, Object>> backends(BackendRouter router, TrackingDefaults tracking) {
        List<Map<String, Object>> out = new ArrayList<>();
        router.backends().values().stream().sorted(Comparator.comparing(BackendInfo::address)).forEach(b -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("addr", b.address());
            m.put("state", b.state().name().toLowerCase());
            m.put("reason", b.reason());
            m.put("sessions", router.sessionCount(b.address()));
            m.put("probation", router.onProbation().contains(b.address()));
            double load = router.load(b.address());
            m.put("load", Double.isNaN(load) ? null : Math.round(load * 10) / 10.0);
            m.put("tracks_by_default", tracking.covers(b.address()));
            m.put("status_port", b.statusPort());
            m.put("labels", b.labels());
            m.put("since", b.since().toString());
            out.add(m);
        });
        return out;
    }

    private static List<Map<String, Object>> sessions(ConnectionRegistry<ClientConnection> registry) {
        List<ClientConnection> all = registry.all().stream()
                .sorted(Comparator.comparingLong(ClientConnection::connectionId)).toList();
        // each session answers on its own event loop; ask all, then wait for all
        Map<ClientConnection, java.util.concurrent.CompletableFuture<String>> reasons = new LinkedHashMap<>();
        all.forEach(c -> reasons.put(c, c.notMigratableReasonAsync()));
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(2);
        List<Map<String, Object>> out = new ArrayList<>();
        all.forEach(c -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", c.connectionId());
            m.put("user", c.user());
            m.put("client", String.valueOf(c.clientAddress()));
            m.put("backend", c.backendAddress());
            m.put("tls", c.clientUsesTls());
            m.put("login", c.loginPath());
            String why;
            try {
                why = reasons.get(c).get(Math.max(0, deadline - System.nanoTime()), java.util.concurrent.TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                why = "unknown (session busy)";
            }
            m.put("migratable", why == null);
            if (why != null) {
                m.put("not_migratable_reason", why);
            }
            out.add(m);
        });
        return out;
    }
}
