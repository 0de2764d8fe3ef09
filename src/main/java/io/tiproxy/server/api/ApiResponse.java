package io.tiproxy.server.api;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a route answers: a status, a content type and the body bytes.
 *
 * @param status      HTTP status
 * @param contentType value of the Content-Type header
 * @param body        the body; may be empty
 * @param headers     further response headers (Content-Type and Content-Length are set from the above)
 */
public record ApiResponse(int status, String contentType, byte[] body, Map<String, String> headers) {
    static final String JSON = "application/json; charset=utf-8";
    static final String TEXT = "text/plain; charset=utf-8";

    public ApiResponse {
        headers = Map.copyOf(headers);
    }

    /** A response with no further headers. */
    public ApiResponse(int status, String contentType, byte[] body) {
        this(status, contentType, body, Map.of());
    }

    /** This response with one more header (replacing one of the same name). */
    public ApiResponse withHeader(String name, String value) {
        Map<String, String> more = new LinkedHashMap<>(headers);
        more.put(name, value);
        return new ApiResponse(status, contentType, body, more);
    }

    /** {@code value} rendered as JSON (records, maps, lists, strings, numbers, java.time values). */
    public static ApiResponse json(int status, Object value) {
        return new ApiResponse(status, JSON, ApiJson.write(value));
    }

    /** 200 with {@code value} as JSON. */
    public static ApiResponse ok(Object value) {
        return json(200, value);
    }

    /** Plain UTF-8 text. */
    public static ApiResponse text(int status, String body) {
        return new ApiResponse(status, TEXT, body.getBytes(StandardCharsets.UTF_8));
    }

    /** The API's error shape: {@code {"error": message}}. */
    public static ApiResponse error(int status, String message) {
        return json(status, Map.of("error", message));
    }
}
