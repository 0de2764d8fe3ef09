package io.tiproxy.protocol;

/** An error the proxy itself reports to a client, with MySQL's code and SQL state. */
public record MySqlError(int code, String sqlState, String message) {
    public static final int ER_CON_COUNT_ERROR = 1040;
    public static final int ER_HANDSHAKE_ERROR = 1043;
    public static final int ER_ACCESS_DENIED_ERROR = 1045;
    public static final int ER_UNKNOWN_COM_ERROR = 1047;
    public static final int ER_NET_PACKET_TOO_LARGE = 1153;
    public static final int ER_NET_READ_ERROR = 1158;
    public static final int ER_NET_READ_INTERRUPTED = 1159;
    public static final int ER_NET_PACKETS_OUT_OF_ORDER = 1156;
    public static final int ER_QUERY_INTERRUPTED = 1317;
    public static final int ER_SERVER_SHUTDOWN = 1053;
    public static final int ER_CONNECTION_KILLED = 1927;
    public static final int ER_SECURE_TRANSPORT_REQUIRED = 3159;
    /** MariaDB answers a PROXY header from an untrusted source with this code too. */
    public static final int ER_HOST_NOT_PRIVILEGED = 1130;
    /** MySQL 8.0.24+ sends it before closing a session idle longer than wait_timeout. */
    public static final int ER_CLIENT_INTERACTION_TIMEOUT = 4031;
    /**
     * "Cannot reach / lost connection to backend": ER_UNKNOWN_ERROR, as TiProxy reports its own errors. Never a
     * client-side code (2000-2999, 5000-5999, e.g. CR_SERVER_LOST 2013): libmariadb (sysbench, the mariadb CLI,
     * PHP, Python) turns an ERR packet carrying one into "2027 Received malformed packet" and loses the message.
     */
    public static final int ER_CONNECT_TO_BACKEND = 1105;

    public static MySqlError tooManyConnections() {
        return new MySqlError(ER_CON_COUNT_ERROR, "08004", "Too many connections");
    }

    /** The memory guard refused a new connection; 1040 so that clients and pools retry it like a full server. */
    public static MySqlError heapTooFull(int usagePercent, int limitPercent) {
        return new MySqlError(ER_CON_COUNT_ERROR, "08004", "Too many connections: the proxy's heap is "
                + usagePercent + "% full after garbage collection, above max-heap-usage-percent " + limitPercent);
    }

    /** A session idle longer than {@code proxy.idle-timeout}: MySQL's words for wait_timeout, naming the proxy. */
    public static MySqlError idleTimeout(java.time.Duration timeout) {
        return new MySqlError(ER_CLIENT_INTERACTION_TIMEOUT, "HY000", "The client was disconnected by the proxy "
                + "because of inactivity: idle longer than proxy.idle-timeout (" + compact(timeout) + ")");
    }

    /** "8h", "1m30s", "2s", "500ms": as the config file writes durations. */
    private static String compact(java.time.Duration d) {
        long millis = d.toMillis();
        if (millis % 1000 != 0) {
            return millis + "ms";
        }
        long seconds = millis / 1000;
        StringBuilder b = new StringBuilder();
        if (seconds >= 3600) {
            b.append(seconds / 3600).append('h');
            seconds %= 3600;
        }
        if (seconds >= 60) {
            b.append(seconds / 60).append('m');
            seconds %= 60;
        }
        if (seconds > 0 || b.length() == 0) {
            b.append(seconds).append('s');
        }
        return b.toString();
    }

    public static MySqlError handshake(String why) {
        return new MySqlError(ER_HANDSHAKE_ERROR, "08S01", "Bad handshake: " + why);
    }

    public static MySqlError malformed(String why) {
        return new MySqlError(ER_NET_READ_ERROR, "08S01", "Malformed packet: " + why);
    }

    public static MySqlError outOfOrder(int expected, int got) {
        return new MySqlError(ER_NET_PACKETS_OUT_OF_ORDER, "08S01",
                "Got packets out of order: expected sequence " + expected + ", got " + got);
    }

    public static MySqlError backendUnavailable(String why) {
        return new MySqlError(ER_CONNECT_TO_BACKEND, "HY000", "Proxy cannot reach a backend: " + why);
    }

    public static MySqlError backendLost(String why) {
        return new MySqlError(ER_CONNECT_TO_BACKEND, "HY000", "Lost connection to backend: " + why);
    }

    public static MySqlError unsupportedCommand(String name) {
        return new MySqlError(ER_UNKNOWN_COM_ERROR, "08S01", "Command " + name + " is not supported through the proxy");
    }

    public static MySqlError handshakeTimeout() {
        return new MySqlError(ER_HANDSHAKE_ERROR, "08S01", "Bad handshake: timed out waiting for the client");
    }

    public static MySqlError unknownThread(long id) {
        return new MySqlError(1094, "HY000", "Unknown thread id: " + id);
    }

    public static MySqlError cannotMove(String backend, String state, String why) {
        return new MySqlError(ER_CONNECTION_KILLED, "70100", "Connection closed by the proxy: backend " + backend
                + " is " + state + " and this session cannot move to another backend: " + why);
    }

    public static MySqlError shuttingDown() {
        return new MySqlError(ER_SERVER_SHUTDOWN, "08S01", "Proxy is shutting down");
    }

    public static MySqlError proxyHeaderRefused(String why) {
        return new MySqlError(ER_HOST_NOT_PRIVILEGED, "HY000", why);
    }

    public static MySqlError tlsRequired() {
        return new MySqlError(ER_SECURE_TRANSPORT_REQUIRED, "HY000",
                "Connections using insecure transport are prohibited: the proxy requires TLS");
    }
}
