package io.tiproxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;

/**
 * tiproxyctl's side of the HTTP API: one request per call, JSON errors turned into
 * {@link ApiError} (exit code 1) and unreachable servers into {@link CannotConnect} (exit code 3).
 */
final class CtlClient {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The server answered with an error status; {@code getMessage()} is its error message. */
    static final class ApiError extends Exception {
        final String body;

        ApiError(String message, String body) {
            super(message);
            this.body = body;
        }
    }

    /** Nothing answered at the address. */
    static final class CannotConnect extends Exception {
        CannotConnect(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** A response the server gave: status and body (JSON or text). */
    record Response(int status, String body) {
        JsonNode json() throws ApiError {
            try {
                return JSON.readTree(body);
            } catch (IOException e) {
                throw new ApiError("the server's answer is not JSON: " + abbreviate(body), body);
            }
        }
    }

    private final String base;
    private final String authorization;
    private final Duration timeout;
    private final HttpClient http;

    /**
     * @param authorization value of the Authorization header, or null to send none
     */
    CtlClient(String host, int port, String authorization, Duration timeout) {
        this(host, port, authorization, timeout, null);
    }

    /**
     * @param tls HTTPS settings, or null for plain HTTP
     * @throws IllegalArgumentException when a TLS file cannot be read
     */
    CtlClient(String host, int port, String authorization, Duration timeout, CtlTls tls) {
        String hostPart = host.indexOf(':') >= 0 && !host.startsWith("[") ? "[" + host + "]" : host;
        this.base = (tls == null ? "http://" : "https://") + hostPart + ":" + port;
        this.authorization = authorization;
        this.timeout = timeout;
        HttpClient.Builder builder = HttpClient.newBuilder().connectTimeout(timeout);
        if (tls != null) {
            builder.sslContext(tls.sslContext());
        }
        this.http = builder.build();
    }

    static String basicAuthorization(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    static String bearerAuthorization(String token) {
        return "Bearer " + token;
    }

    /** A path segment with everything but unreserved characters percent-encoded. */
    static String segment(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    /** Sends a request; an error status is an {@link ApiError} unless {@code acceptErrors}. */
    Response send(String method, String pathAndQuery, String body, String contentType, boolean acceptErrors)
            throws ApiError, CannotConnect {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(base + pathAndQuery))
                .timeout(timeout)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body, StandardCharsets.UTF_8));
        if (contentType != null) {
            request.header("Content-Type", contentType);
        }
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        } catch (ConnectException | HttpConnectTimeoutException e) {
            throw new CannotConnect("cannot connect to the TiProxy API at " + base + ": "
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()), e);
        } catch (IOException e) {
            throw new CannotConnect("no answer from the TiProxy API at " + base + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CannotConnect("interrupted while calling " + base, e);
        }
        Response result = new Response(response.statusCode(), response.body());
        if (result.status() >= 400 && !acceptErrors) {
            throw new ApiError(errorMessage(result), result.body());
        }
        return result;
    }

    Response get(String path) throws ApiError, CannotConnect {
        return send("GET", path, null, null, false);
    }

    /** The message of an error response: its {@code error} field, else the status and the body. */
    static String errorMessage(Response response) {
        try {
            JsonNode json = JSON.readTree(response.body());
            for (String field : new String[] {"error", "reason"}) {
                if (json != null && json.hasNonNull(field)) {
                    return json.get(field).asText();
                }
            }
        } catch (IOException e) {
            // not JSON: fall through
        }
        return "HTTP " + response.status() + (response.body().isBlank() ? "" : ": " + abbreviate(response.body()));
    }

    private static String abbreviate(String text) {
        String line = text.strip().replace('\n', ' ');
        return line.length() <= 200 ? line : line.substring(0, 200) + "...";
    }
}
