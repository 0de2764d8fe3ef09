package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Finds the route for a method and path: a match, "no such path" (404) or "wrong method" (405). */
final class RouteTable {

    /** The outcome of a lookup. */
    sealed interface Lookup permits Found, NotFound, MethodNotAllowed {
    }

    record Found(ApiRoute route, Map<String, String> pathParams) implements Lookup {
    }

    record NotFound() implements Lookup {
    }

    record MethodNotAllowed(Set<HttpMethod> allowed) implements Lookup {
    }

    /** A pattern split into segments; a segment in braces is a parameter. */
    private record CompiledRoute(ApiRoute route, List<String> segments, int literalCount) {
        static CompiledRoute of(ApiRoute route) {
            String pattern = route.pattern();
            if (!pattern.startsWith("/")) {
                throw new IllegalArgumentException("route pattern must start with '/': " + pattern);
            }
            List<String> segments = splitPath(pattern);
            int literals = (int) segments.stream().filter(segment -> !isParameter(segment)).count();
            return new CompiledRoute(route, segments, literals);
        }

        /** Parameters by name when {@code path} fits the pattern, else null. */
        Map<String, String> match(List<String> path) {
            if (path.size() != segments.size()) {
                return null;
            }
            Map<String, String> params = new HashMap<>();
            for (int i = 0; i < segments.size(); i++) {
                String segment = segments.get(i);
                if (isParameter(segment)) {
                    params.put(segment.substring(1, segment.length() - 1), path.get(i));
                } else if (!segment.equals(path.get(i))) {
                    return null;
                }
            }
            return params;
        }
    }

    private final List<CompiledRoute> routes = new ArrayList<>();

    RouteTable(List<ApiRoute> routes) {
        Set<String> seen = new java.util.HashSet<>();
        for (ApiRoute route : routes) {
            CompiledRoute compiled = CompiledRoute.of(route);
            String shape = route.method() + " " + compiled.segments().stream()
                    .map(segment -> isParameter(segment) ? "{}" : segment).toList();
            if (!seen.add(shape)) {
                throw new IllegalArgumentException("two routes for " + route.method() + " " + route.pattern());
            }
            this.routes.add(compiled);
        }
    }

    /**
     * @param rawPath the request path as sent (percent-encoded, without the query)
     * @throws IllegalArgumentException when the path's percent-encoding is broken
     */
    Lookup lookup(HttpMethod method, String rawPath) {
        List<String> path = splitPath(rawPath).stream().map(RouteTable::decodeSegment).toList();
        CompiledRoute best = null;
        Map<String, String> bestParams = null;
        Set<HttpMethod> allowed = new LinkedHashSet<>();
        for (CompiledRoute route : routes) {
            Map<String, String> params = route.match(path);
            if (params == null) {
                continue;
            }
            if (!route.route().method().equals(method)) {
                allowed.add(route.route().method());
            } else if (best == null || route.literalCount() > best.literalCount()) {
                best = route;
                bestParams = params;
            }
        }
        if (best != null) {
            return new Found(best.route(), bestParams);
        }
        return allowed.isEmpty() ? new NotFound() : new MethodNotAllowed(allowed);
    }

    private static boolean isParameter(String segment) {
        return segment.length() > 2 && segment.startsWith("{") && segment.endsWith("}");
    }

    /** "/a/b/" and "/a/b" both give [a, b]; "/" gives []. */
    private static List<String> splitPath(String path) {
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        if (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed.isEmpty() ? List.of() : List.of(trimmed.split("/", -1));
    }

    /** Percent-decoding for a path segment, where '+' is a plus sign, not a space. */
    private static String decodeSegment(String segment) {
        return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    }
}
