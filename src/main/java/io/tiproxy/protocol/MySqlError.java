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
    /** CR_SERVER_LOST style code used by MariaDB for "lost connection to backend". */
    public static final int ER_CONNECT_TO_BACKEND = 2013;

    public static MySqlError tooManyConnections() {
        return new MySqlError(ER_CON_COUNT_ERROR, "08004", "Too many connections");
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

    public static MySqlError tlsRequired() {
        return new MySqlError(ER_SECURE_TRANSPORT_REQUIRED, "HY000",
                "Connections using insecure transport are prohibited: the proxy requires TLS");
    }
}
