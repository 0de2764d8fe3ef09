package io.tiproxy.manager.config;

import io.tiproxy.manager.config.ConfigKey.Rendering;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The {@code proxy} section: the SQL listener and how sessions reach backends.
 *
 * @param addr                       SQL listener address
 * @param pdAddrs                    PD (etcd) endpoints for TiDB topology discovery; empty means use {@link #backends}
 * @param backends                   static backend list
 * @param maxConnections             most client connections at once; 0 means no limit
 * @param handshakeTimeout           how long a client has to finish its handshake
 * @param gracefulWaitBeforeShutdown how long the proxy reports unhealthy before it stops accepting on shutdown
 * @param gracefulCloseConnTimeout   how long sessions get to reach a safe point and close on shutdown
 * @param failBackendList            backends to drain (no new sessions; existing ones move away)
 * @param requireBackendTls          refuse backends that do not offer TLS
 * @param proxyProtocol              whether clients send a PROXY protocol header
 * @param proxyProtocolNetworks      source networks (CIDR) allowed to send a PROXY header; others may not
 * @param serverVersion              version string shown to clients; empty means the backend's own
 * @param idleTimeout                close a client session idle (outside a transaction) this long; 0: never
 * @param maxHeapUsagePercent        refuse new connections while heap use is above this percent; 0: never
 */
public record ProxyConfig(
        HostPort addr,
        @ConfigKey(render = Rendering.COMMA_SEPARATED) List<HostPort> pdAddrs,
        List<HostPort> backends,
        int maxConnections,
        Duration handshakeTimeout,
        @ConfigKey(render = Rendering.INTEGER_SECONDS) Duration gracefulWaitBeforeShutdown,
        @ConfigKey(render = Rendering.INTEGER_SECONDS) Duration gracefulCloseConnTimeout,
        List<HostPort> failBackendList,
        boolean requireBackendTls,
        ProxyProtocol proxyProtocol,
        List<String> proxyProtocolNetworks,
        String serverVersion,
        Duration idleTimeout,
        int maxHeapUsagePercent) {

    public ProxyConfig {
        Objects.requireNonNull(addr, "addr");
        pdAddrs = List.copyOf(pdAddrs);
        backends = List.copyOf(backends);
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        Objects.requireNonNull(gracefulWaitBeforeShutdown, "gracefulWaitBeforeShutdown");
        Objects.requireNonNull(gracefulCloseConnTimeout, "gracefulCloseConnTimeout");
        failBackendList = List.copyOf(failBackendList);
        Objects.requireNonNull(proxyProtocol, "proxyProtocol");
        proxyProtocolNetworks = List.copyOf(proxyProtocolNetworks);
        Objects.requireNonNull(serverVersion, "serverVersion");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
    }

    /** The section's values when the file does not set them. */
    public static ProxyConfig defaults() {
        return new ProxyConfig(new HostPort("0.0.0.0", 6000), List.of(), List.of(), 0,
                Duration.ofSeconds(15), Duration.ZERO, Duration.ofSeconds(15), List.of(), false,
                ProxyProtocol.NONE, List.of(), "", Duration.ZERO, 90);
    }

    /** True when backends come from PD (TiDB topology) rather than the static {@link #backends} list. */
    public boolean discoversFromPd() {
        return !pdAddrs.isEmpty();
    }

    /** True when {@link #maxConnections} sets a limit. */
    public boolean limitsConnections() {
        return maxConnections > 0;
    }
}
