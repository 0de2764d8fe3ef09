package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * The {@code security} section: TLS on each side of the proxy, set up independently.
 *
 * @param serverTls TLS between clients and the proxy (the proxy is the server)
 * @param sqlTls        TLS between the proxy and backends (the proxy is the client)
 * @param serverHttpTls TLS for the HTTP API and /metrics listener (the proxy is the server)
 */
public record SecurityConfig(TlsConfig serverTls, TlsConfig sqlTls, TlsConfig serverHttpTls) {

    public SecurityConfig {
        Objects.requireNonNull(serverTls, "serverTls");
        Objects.requireNonNull(sqlTls, "sqlTls");
        Objects.requireNonNull(serverHttpTls, "serverHttpTls");
    }

    /** The section's values when the file does not set them: TLS off everywhere. */
    public static SecurityConfig defaults() {
        return new SecurityConfig(TlsConfig.defaults(), TlsConfig.defaults(), TlsConfig.defaults());
    }
}
