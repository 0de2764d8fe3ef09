package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * One side's TLS settings ({@code security.server-tls} or {@code security.sql-tls}). File paths
 * are used as written (relative ones from the working directory); empty means not set.
 *
 * @param cert          certificate chain (PEM) the proxy presents
 * @param key           private key (PEM) of {@link #cert}
 * @param ca            CA bundle (PEM) to verify the peer; as a server, set means clients must present certificates
 * @param skipCa        as a client: use TLS without verifying the backend's certificate
 * @param minTlsVersion oldest TLS version accepted
 * @param require       as a server: refuse clients that do not use TLS (server-tls only)
 */
public record TlsConfig(String cert, String key, String ca, boolean skipCa, TlsVersion minTlsVersion,
                        boolean require) {

    public TlsConfig {
        Objects.requireNonNull(cert, "cert");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(ca, "ca");
        Objects.requireNonNull(minTlsVersion, "minTlsVersion");
    }

    /** No TLS: every path empty, TLS 1.2 minimum. */
    public static TlsConfig defaults() {
        return new TlsConfig("", "", "", false, TlsVersion.TLS_1_2, false);
    }

    /** As the server side (client -> proxy): TLS is offered when both a certificate and its key are set. */
    public boolean enabledAsServer() {
        return !cert.isEmpty() && !key.isEmpty();
    }

    /** As the client side (proxy -> backend): TLS is used when a CA is set or verification is skipped. */
    public boolean enabledAsClient() {
        return !ca.isEmpty() || skipCa;
    }

    /** True when the proxy presents a client certificate to backends (both cert and key set). */
    public boolean hasCertificate() {
        return !cert.isEmpty() && !key.isEmpty();
    }
}
