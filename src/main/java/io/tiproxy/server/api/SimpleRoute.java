package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;

/** A route from a method, a path pattern and a handler function. */
public record SimpleRoute(HttpMethod method, String pattern, Handler handler) implements ApiRoute {

    /** Answers one request. */
    @FunctionalInterface
    public interface Handler {
        ApiResponse handle(ApiRequest request) throws ApiException;
    }

    @Override
    public ApiResponse handle(ApiRequest request) throws ApiException {
        return handler.handle(request);
    }
}
