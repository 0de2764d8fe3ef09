package io.tiproxy.proxy;

/** Why a session ended or a step failed: labels logs and metrics and decides what the client is told. */
public enum ErrorSource {
    /** The client closed the connection or sent COM_QUIT. */
    CLIENT_QUIT,
    /** The client's network failed (reset, timeout). */
    CLIENT_NETWORK,
    /** The client broke the protocol: malformed or out-of-order packet, bad handshake. */
    CLIENT_PROTOCOL,
    /** The client did not finish its handshake in time. */
    HANDSHAKE_TIMEOUT,
    /** The client required or refused TLS against the proxy's configuration. */
    CLIENT_TLS,
    /** The backend refused the client's credentials. */
    BACKEND_AUTH,
    /** No backend could be reached for a new session. */
    BACKEND_CONNECT,
    /** The backend connection failed during the session. */
    BACKEND_NETWORK,
    /** The backend broke the protocol. */
    BACKEND_PROTOCOL,
    /** The proxy refused the session: connection limit, memory guard. */
    PROXY_LIMIT,
    /** The session sat idle outside a transaction for longer than {@code proxy.idle-timeout}. */
    IDLE_TIMEOUT,
    /** The session's backend was drained or removed and the session could not move in time. */
    BACKEND_DRAINED,
    /** The proxy is shutting down. */
    PROXY_SHUTDOWN,
    /** An operator or another session killed this session. */
    KILLED
}
