package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;

/**
 * One HTTP API endpoint: a method, a path pattern and what it answers. Patterns are literal
 * segments and {@code {name}} placeholders that match exactly one (URL-decoded) segment, as in
 * {@code /api/backends/{addr}/drain}. Where two patterns match, the one with more literal segments
 * wins.
 *
 * <p>Routes run on the API server's own event-loop thread: a slow route delays other API requests
 * (never SQL traffic).
 */
public interface ApiRoute {

    HttpMethod method();

    String pattern();

    /**
     * Answers a request whose method and path matched this route.
     *
     * @throws ApiException to answer with that status and a JSON {@code {"error": message}}
     */
    ApiResponse handle(ApiRequest request) throws ApiException;
}
