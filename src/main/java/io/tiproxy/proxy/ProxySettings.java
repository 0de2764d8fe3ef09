package io.tiproxy.proxy;

import io.netty.handler.ssl.SslContext;

import java.time.Duration;

/**
 * What a session needs from the configuration, as one immutable snapshot.
 *
 * @param serverTls TLS context towards clients, or null when client TLS is not configured
 * @param backendTls TLS context towards backends, or null for plaintext backend connections
 * @param serverVersion version string shown to clients; empty to show the backend's own
 * @param maxConnections 0 for no limit
 */
public record ProxySettings(Duration handshakeTimeout, Duration backendConnectTimeout, String serverVersion,
                            boolean requireClientTls, boolean requireBackendTls,
                            SslContext serverTls, SslContext backendTls, int maxConnections) {

    public static ProxySettings defaults() {
        return new ProxySettings(Duration.ofSeconds(15), Duration.ofSeconds(5), "", false, false, null, null, 0);
    }
}
