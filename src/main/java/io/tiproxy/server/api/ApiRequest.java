package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * A request as a route sees it: the whole body is already read (at most 1 MiB).
 *
 * @param method     the HTTP method
 * @param path       the decoded path, without the query
 * @param pathParams values of the route pattern's {@code {name}} segments, URL-decoded
 * @param query      query parameters, URL-decoded, each with all its values in order
 * @param body       the request body; empty when there is none
 * @param headers    request headers by lower-case name, each with its first value
 */
public record ApiRequest(HttpMethod method, String path, Map<String, String> pathParams,
                         Map<String, List<String>> query, byte[] body, Map<String, String> headers) {

    public ApiRequest {
        pathParams = Map.copyOf(pathParams);
        query = Map.copyOf(query);
        headers = headers.entrySet().stream().collect(Collectors.toUnmodifiableMap(
                e -> e.getKey().toLowerCase(Locale.ROOT), Map.Entry::getValue, (first, second) -> first));
    }

    /** A request without headers. */
    public ApiRequest(HttpMethod method, String path, Map<String, String> pathParams,
                      Map<String, List<String>> query, byte[] body) {
        this(method, path, pathParams, query, body, Map.of());
    }

    /** The first value of a header, by case-insensitive name. */
    public Optional<String> header(String name) {
        return Optional.ofNullable(headers.get(name.toLowerCase(Locale.ROOT)));
    }

    /** The value of the pattern's {@code {name}} segment; a route asks only for its own names. */
    public String pathParam(String name) {
        String value = pathParams.get(name);
        if (value == null) {
            throw new IllegalArgumentException("route pattern has no {" + name + "}");
        }
        return value;
    }

    /** The first value of a query parameter, if the query has it. */
    public Optional<String> queryParam(String name) {
        List<String> values = query.get(name);
        return values == null || values.isEmpty() ? Optional.empty() : Optional.of(values.get(0));
    }

    /** The body as UTF-8 text. */
    public String bodyAsString() {
        return new String(body, StandardCharsets.UTF_8);
    }

    /** The body read as JSON into {@code type}; a body that does not fit is a 400. */
    public <T> T bodyAsJson(Class<T> type) throws ApiException {
        if (body.length == 0) {
            throw ApiException.badRequest("request body is empty; expected JSON");
        }
        return ApiJson.read(body, type);
    }
}
