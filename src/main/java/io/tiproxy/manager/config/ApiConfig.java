package io.tiproxy.manager.config;

import io.tiproxy.manager.config.ConfigKey.Rendering;

import java.util.Objects;

/**
 * The {@code api} section: the HTTP API and {@code /metrics} listener.
 *
 * @param addr     HTTP listener address
 * @param user     HTTP Basic user for the admin endpoints (with {@code password}); empty: no Basic auth
 * @param password its password
 * @param token    bearer token accepted for the admin endpoints; empty: none
 */
public record ApiConfig(HostPort addr, String user, @ConfigKey(render = Rendering.MASKED) String password,
                        @ConfigKey(render = Rendering.MASKED) String token) {

    public ApiConfig {
        Objects.requireNonNull(addr, "addr");
        Objects.requireNonNull(user, "user");
        Objects.requireNonNull(password, "password");
        Objects.requireNonNull(token, "token");
    }

    /** The section's values when the file does not set them. */
    public static ApiConfig defaults() {
        return new ApiConfig(new HostPort("0.0.0.0", 3080), "", "", "");
    }

    /** Whether the admin endpoints require credentials. */
    public boolean protectsAdmin() {
        return !user.isEmpty() || !token.isEmpty();
    }

    @Override
    public String toString() {
        return "ApiConfig[addr=" + addr + ", user=" + user + ", password=" + (password.isEmpty() ? "" : "******")
                + ", token=" + (token.isEmpty() ? "" : "******") + "]";
    }
}
