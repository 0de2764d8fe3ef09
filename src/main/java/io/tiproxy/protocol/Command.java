package io.tiproxy.protocol;

/** Client commands (the first payload byte of a command packet) and the shape of their responses. */
public enum Command {
    COM_SLEEP(0x00, ResponseShape.SINGLE),
    COM_QUIT(0x01, ResponseShape.NONE),
    COM_INIT_DB(0x02, ResponseShape.SINGLE),
    COM_QUERY(0x03, ResponseShape.RESULT),
    COM_FIELD_LIST(0x04, ResponseShape.FIELD_LIST),
    COM_CREATE_DB(0x05, ResponseShape.SINGLE),
    COM_DROP_DB(0x06, ResponseShape.SINGLE),
    COM_REFRESH(0x07, ResponseShape.SINGLE),
    COM_SHUTDOWN(0x08, ResponseShape.SINGLE),
    COM_STATISTICS(0x09, ResponseShape.SINGLE),
    COM_PROCESS_INFO(0x0a, ResponseShape.RESULT),
    COM_CONNECT(0x0b, ResponseShape.SINGLE),
    COM_PROCESS_KILL(0x0c, ResponseShape.SINGLE),
    COM_DEBUG(0x0d, ResponseShape.SINGLE),
    COM_PING(0x0e, ResponseShape.SINGLE),
    COM_TIME(0x0f, ResponseShape.SINGLE),
    COM_DELAYED_INSERT(0x10, ResponseShape.SINGLE),
    COM_CHANGE_USER(0x11, ResponseShape.AUTH),
    COM_BINLOG_DUMP(0x12, ResponseShape.UNSUPPORTED),
    COM_TABLE_DUMP(0x13, ResponseShape.UNSUPPORTED),
    COM_CONNECT_OUT(0x14, ResponseShape.UNSUPPORTED),
    COM_REGISTER_SLAVE(0x15, ResponseShape.UNSUPPORTED),
    COM_STMT_PREPARE(0x16, ResponseShape.PREPARE),
    COM_STMT_EXECUTE(0x17, ResponseShape.RESULT),
    COM_STMT_SEND_LONG_DATA(0x18, ResponseShape.NONE),
    COM_STMT_CLOSE(0x19, ResponseShape.NONE),
    COM_STMT_RESET(0x1a, ResponseShape.SINGLE),
    COM_SET_OPTION(0x1b, ResponseShape.SINGLE),
    COM_STMT_FETCH(0x1c, ResponseShape.FETCH),
    COM_DAEMON(0x1d, ResponseShape.UNSUPPORTED),
    COM_BINLOG_DUMP_GTID(0x1e, ResponseShape.UNSUPPORTED),
    COM_RESET_CONNECTION(0x1f, ResponseShape.SINGLE);

    /** How the server answers a command. */
    public enum ResponseShape {
        /** No response at all. */
        NONE,
        /** Exactly one packet (OK, ERR, EOF or, for COM_STATISTICS, a plain string). */
        SINGLE,
        /** Text or binary result sets, possibly several, or OK/ERR, or a LOCAL INFILE request. */
        RESULT,
        /** Prepare-OK followed by parameter and column definitions, or ERR. */
        PREPARE,
        /** Column definitions terminated by EOF, or ERR. */
        FIELD_LIST,
        /** Rows of an open cursor terminated by EOF/OK, or ERR. */
        FETCH,
        /** An authentication exchange ending in OK or ERR. */
        AUTH,
        /** Replication and other commands a proxy cannot carry. */
        UNSUPPORTED
    }

    private static final Command[] BY_CODE = new Command[0x20];

    static {
        for (Command c : values()) {
            BY_CODE[c.code] = c;
        }
    }

    private final int code;
    private final ResponseShape shape;

    Command(int code, ResponseShape shape) {
        this.code = code;
        this.shape = shape;
    }

    public int code() {
        return code;
    }

    public ResponseShape shape() {
        return shape;
    }

    /** The command for a code, or {@code null} if the code is not a known command. */
    public static Command of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
