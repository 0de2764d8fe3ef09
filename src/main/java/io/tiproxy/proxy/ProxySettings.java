package io.tiproxy.proxy;

import io.netty.handler.ssl.SslContext;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What a session needs from the configuration, as one immutable snapshot.
 *
 * @param serverTls             TLS context towards clients, or null when client TLS is not configured
 * @param backendTls            TLS context towards backends, or null for plaintext backend connections
 * @param serverVersion         version string shown to clients; empty to show the backend's own
 * @param maxConnections        0 for no limit
 * @param idleTimeout           close sessions idle this long outside a transaction; zero for never
 * @param maxHeapUsagePercent   refuse new connections while the heap is fuller than this; 0 for no guard
 * @param acceptProxyProtocol   clients (from {@code proxyProtocolNetworks}) may start with a PROXY v2 header
 * @param proxyProtocolNetworks CIDR networks trusted to send a PROXY header
 * @param sendProxyProtocol     open each backend connection with a PROXY v2 header for the client's address
 */
public record ProxySettings(Duration handshakeTimeout, Duration backendConnectTimeout, String serverVersion,
                            boolean requireClientTls, boolean requireBackendTls,
                            SslContext serverTls, SslContext backendTls, int maxConnections,
                            Duration idleTimeout, int maxHeapUsagePercent,
                            boolean acceptProxyProtocol, List<String> proxyProtocolNetworks,
                            boolean sendProxyProtocol) {

    public ProxySettings {
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        proxyProtocolNetworks = List.copyOf(proxyProtocolNetworks);
    }

    /** These settings with other TLS contexts: renewed certificates, for the connections that start next. */
    public ProxySettings withTls(SslContext serverTls, SslContext backendTls) {
        return new ProxySettings(handshakeTimeout, backendConnectTimeout, serverVersion, requireClientTls,
                requireBackendTls, serverTls, backendTls, maxConnections, idleTimeout, maxHeapUsagePercent,
                acceptProxyProtocol, proxyProtocolNetworks, sendProxyProtocol);
    }

    public static ProxySettings defaults() {
        return new ProxySettings(Duration.ofSeconds(15), Duration.ofSeconds(5), "", false, false, null, null, 0,
                Duration.ZERO, 0, false, List.of(), false);
    }
}
