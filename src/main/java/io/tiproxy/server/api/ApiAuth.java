package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Protects admin routes with HTTP Basic auth ({@code api.user}/{@code api.password}) and/or a bearer
 * token ({@code api.token}): a request must carry {@code Authorization: Basic ...} with the user and
 * password, or {@code Authorization: Bearer <token>}, when those are configured. Otherwise it gets
 * 401 {@code {"error": ...}} with a {@code WWW-Authenticate} challenge for each accepted scheme.
 * With no credentials configured, routes are left open.
 *
 * <p>Credentials are read on every request from a supplier, so a config reload changes them at once.
 * Secrets are compared in constant time and never logged.
 */
public final class ApiAuth {
    private static final Logger log = LoggerFactory.getLogger(ApiAuth.class);
    private static final String REALM = "tiproxy";

    /**
     * What the API accepts; an empty string means "not configured".
     *
     * @param user     Basic auth user (set together with {@code password})
     * @param password Basic auth password
     * @param token    bearer token
     */
    public record Credentials(String user, String password, String token) {
        /** Nothing configured: every route open. */
        public static final Credentials NONE = new Credentials("", "", "");

        public Credentials {
            Objects.requireNonNull(user, "user");
            Objects.requireNonNull(password, "password");
            Objects.requireNonNull(token, "token");
            if (user.isEmpty() != password.isEmpty()) {
                throw new IllegalArgumentException("set both user and password, or neither");
            }
        }

        boolean basic() {
            return !user.isEmpty();
        }

        boolean bearer() {
            return !token.isEmpty();
        }

        boolean any() {
            return basic() || bearer();
        }

        @Override
        public String toString() {
            return "Credentials[user=" + user + ", password=" + (password.isEmpty() ? "" : "******")
                    + ", token=" + (token.isEmpty() ? "" : "******") + "]";
        }
    }

    private final Supplier<Credentials> credentials;

    public ApiAuth(Supplier<Credentials> credentials) {
        this.credentials = Objects.requireNonNull(credentials, "credentials");
    }

    /** {@code route}, answering 401 unless the request authenticates (while credentials are configured). */
    public ApiRoute protect(ApiRoute route) {
        return new Protected(route);
    }

    /** Each route {@link #protect}ed. */
    public List<ApiRoute> protect(List<ApiRoute> routes) {
        return routes.stream().map(this::protect).toList();
    }

    private final class Protected implements ApiRoute {
        private final ApiRoute route;

        Protected(ApiRoute route) {
            this.route = route;
        }

        @Override
        public HttpMethod method() {
            return route.method();
        }

        @Override
        public String pattern() {
            return route.pattern();
        }

        @Override
        public ApiResponse handle(ApiRequest request) throws ApiException {
            Credentials accepted = credentials.get();
            if (!accepted.any()) {
                return route.handle(request);
            }
            Optional<String> authorization = request.header("authorization");
            if (authorization.isPresent() && matches(accepted, authorization.get())) {
                return route.handle(request);
            }
            String why = authorization.isPresent() ? "wrong credentials" : "authentication required";
            if (authorization.isPresent()) {
                log.warn("API {} {} refused: {}", request.method(), request.path(), why);
            } else {
                log.debug("API {} {} refused: {}", request.method(), request.path(), why);
            }
            return ApiResponse.error(401, why + " (" + schemes(accepted) + ")")
                    .withHeader("WWW-Authenticate", challenges(accepted));
        }
    }

    static boolean matches(Credentials accepted, String authorization) {
        int space = authorization.indexOf(' ');
        if (space <= 0) {
            return false;
        }
        String scheme = authorization.substring(0, space);
        String value = authorization.substring(space + 1).strip();
        if (accepted.bearer() && scheme.equalsIgnoreCase("Bearer")) {
            return constantTimeEquals(value, accepted.token());
        }
        if (accepted.basic() && scheme.equalsIgnoreCase("Basic")) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(value), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return false;
            }
            // both compared, always, so the time taken does not tell which one was wrong
            int colon = decoded.indexOf(':');
            boolean user = constantTimeEquals(colon < 0 ? decoded : decoded.substring(0, colon), accepted.user());
            boolean password = constantTimeEquals(colon < 0 ? "" : decoded.substring(colon + 1), accepted.password());
            return colon >= 0 & user & password;
        }
        return false;
    }

    /** Equality whose time does not depend on where the strings differ (digests have equal length). */
    private static boolean constantTimeEquals(String given, String expected) {
        return MessageDigest.isEqual(sha256(given), sha256(expected));
    }

    private static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static String schemes(Credentials accepted) {
        List<String> schemes = new ArrayList<>();
        if (accepted.basic()) {
            schemes.add("HTTP Basic: tiproxyctl --user/--password");
        }
        if (accepted.bearer()) {
            schemes.add("Bearer token: tiproxyctl --token");
        }
        return String.join(" or ", schemes);
    }

    private static String challenges(Credentials accepted) {
        List<String> challenges = new ArrayList<>();
        if (accepted.basic()) {
            challenges.add("Basic realm=\"" + REALM + "\", charset=\"UTF-8\"");
        }
        if (accepted.bearer()) {
            challenges.add("Bearer realm=\"" + REALM + "\"");
        }
        return String.join(", ", challenges);
    }
}
