package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * The {@code api} section: the HTTP API and {@code /metrics} listener.
 *
 * @param addr HTTP listener address
 */
public record ApiConfig(HostPort addr) {

    public ApiConfig {
        Objects.requireNonNull(addr, "addr");
    }

    /** The section's values when the file does not set them. */
    public static ApiConfig defaults() {
        return new ApiConfig(new HostPort("0.0.0.0", 3080));
    }
}
