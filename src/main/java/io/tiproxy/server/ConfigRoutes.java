package io.tiproxy.server;

import io.netty.handler.codec.http.HttpMethod;
import io.tiproxy.manager.config.ConfigException;
import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.ConfigReloader;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.server.api.ApiException;
import io.tiproxy.server.api.ApiRequest;
import io.tiproxy.server.api.ApiResponse;
import io.tiproxy.server.api.ApiRoute;
import io.tiproxy.server.api.SimpleRoute;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code /api/admin/config}, TiProxy's config resource:
 * <ul>
 * <li>{@code GET} answers the running config as JSON with the file's keys, or as YAML with
 *     {@code ?format=yaml} (which {@code PUT} reads back); secrets show as {@code "******"}.</li>
 * <li>{@code PUT} takes a whole config as YAML (keys left out get their defaults, as in the file),
 *     validates it as a whole and offers it to the {@link ConfigReloader}, the path the watched file
 *     takes too. A secret sent as {@code "******"} keeps its current value. Answers 200
 *     {@code {"status":"applied"|"unchanged","config_checksum":...,"changes":[...]}}; 400 with the
 *     loader's {@code source:line: key: reason} when the YAML is not a valid config; 409 when it
 *     changes a key that needs a restart or cannot be applied. A refused config changes nothing.</li>
 * </ul>
 * The config set through the API lives in memory: a later change of the file replaces it.
 */
public final class ConfigRoutes {
    static final String JSON = "application/json; charset=utf-8";
    static final String YAML = "application/yaml; charset=utf-8";
    /** The source name in error messages about a PUT body, as in {@code api:3: proxy.addr: ...}. */
    static final String SOURCE = "api";

    private ConfigRoutes() {
    }

    /** The GET and PUT routes over {@code reloader}'s running config. */
    public static List<ApiRoute> create(ConfigReloader reloader) {
        return List.of(
                new SimpleRoute(HttpMethod.GET, "/api/admin/config", request -> get(reloader, request)),
                new SimpleRoute(HttpMethod.PUT, "/api/admin/config", request -> put(reloader, request)));
    }

    private static ApiResponse get(ConfigReloader reloader, ApiRequest request) throws ApiException {
        TiProxyConfig config = reloader.current();
        String format = request.queryParam("format").orElse("json");
        return switch (format) {
            case "json" -> new ApiResponse(200, JSON, config.toJson().getBytes(StandardCharsets.UTF_8));
            case "yaml" -> new ApiResponse(200, YAML, config.toYaml().getBytes(StandardCharsets.UTF_8));
            default -> throw ApiException.badRequest("format must be json or yaml, got \"" + format + "\"");
        };
    }

    private static ApiResponse put(ConfigReloader reloader, ApiRequest request) throws ApiException {
        String yaml = request.bodyAsString();
        if (yaml.isBlank()) {
            // an empty file is a valid config (all defaults): refuse it here, it is surely a mistake
            throw ApiException.badRequest("request body is empty; send the whole config as YAML "
                    + "(GET /api/admin/config?format=yaml gives the running one)");
        }
        TiProxyConfig candidate;
        try {
            candidate = ConfigLoader.parse(yaml, SOURCE);
        } catch (ConfigException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        ConfigReloader.Outcome outcome = reloader.offer(candidate, SOURCE);
        if (outcome instanceof ConfigReloader.Rejected rejected) {
            throw new ApiException(409, "config " + rejected.reason());
        }
        Map<String, Object> body = new LinkedHashMap<>();
        if (outcome instanceof ConfigReloader.Applied applied) {
            body.put("status", "applied");
            body.put("changes", applied.changes());
        } else {
            body.put("status", "unchanged");
            body.put("changes", List.of());
        }
        body.put("config_checksum", outcome.config().checksum());
        return ApiResponse.ok(body);
    }
}
