package io.tiproxy.proxy;

/** Why the proxy refused a new client before its handshake (TiProxy's {@code reject_connection_total} types). */
public enum RejectReason {
    /** {@code proxy.max-connections} sessions were already open. */
    MAX_CONNECTIONS,
    /** The heap was fuller than {@code proxy.max-heap-usage-percent} after the latest collection. */
    MEMORY
}
