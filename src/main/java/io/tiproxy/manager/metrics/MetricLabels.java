package io.tiproxy.manager.metrics;

import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.RejectReason;

/**
 * Label values as TiProxy writes them, so its dashboards and alert rules match ours: command names
 * from TiProxy's {@code pkg/proxy/net/command.go} (which copies TiDB's), disconnect types from
 * {@code ErrorSource.String()} in {@code pkg/proxy/backend/error.go}.
 */
final class MetricLabels {
    /** {@code migrate_res} of a migration that worked / failed. */
    static final String MIGRATE_SUCCEED = "succeed";
    static final String MIGRATE_FAIL = "fail";

    private MetricLabels() {
    }

    /** The {@code cmd_type} label of a command: {@code Query}, {@code StmtExecute}, ... */
    static String commandType(Command command) {
        return switch (command) {
            case COM_SLEEP -> "Sleep";
            case COM_QUIT -> "Quit";
            case COM_INIT_DB -> "InitDB";
            case COM_QUERY -> "Query";
            case COM_FIELD_LIST -> "FieldList";
            case COM_CREATE_DB -> "CreateDB";
            case COM_DROP_DB -> "DropDB";
            case COM_REFRESH -> "Refresh";
            case COM_SHUTDOWN -> "(DEPRECATED)Shutdown";
            case COM_STATISTICS -> "Statistics";
            case COM_PROCESS_INFO -> "ProcessInfo";
            case COM_CONNECT -> "Connect";
            case COM_PROCESS_KILL -> "ProcessKill";
            case COM_DEBUG -> "Debug";
            case COM_PING -> "Ping";
            case COM_TIME -> "Time";
            case COM_DELAYED_INSERT -> "DelayedInsert";
            case COM_CHANGE_USER -> "ChangeUser";
            case COM_BINLOG_DUMP -> "BinlogDump";
            case COM_TABLE_DUMP -> "TableDump";
            case COM_CONNECT_OUT -> "ConnectOut";
            case COM_REGISTER_SLAVE -> "RegisterSlave";
            case COM_STMT_PREPARE -> "StmtPrepare";
            case COM_STMT_EXECUTE -> "StmtExecute";
            case COM_STMT_SEND_LONG_DATA -> "StmtSendLongData";
            case COM_STMT_CLOSE -> "StmtClose";
            case COM_STMT_RESET -> "StmtReset";
            case COM_SET_OPTION -> "SetOption";
            case COM_STMT_FETCH -> "StmtFetch";
            case COM_DAEMON -> "Daemon";
            case COM_BINLOG_DUMP_GTID -> "BinlogDumpGtid";
            case COM_RESET_CONNECTION -> "ResetConnect";
        };
    }

    /** The {@code type} label of {@code tiproxy_server_reject_connection_total}, as TiProxy writes it. */
    static String rejectType(RejectReason reason) {
        return switch (reason) {
            case MAX_CONNECTIONS -> "max_connections";
            case MEMORY -> "memory";
        };
    }

    /**
     * The {@code type} label of {@code tiproxy_server_disconnection_total}. TiProxy's words where it
     * has the same cause; {@code connection limit}, {@code idle timeout}, {@code backend drained} and {@code killed} are ours
     * (TiProxy has none of them).
     */
    static String disconnectType(ErrorSource source) {
        return switch (source) {
            case CLIENT_QUIT -> "success";
            case CLIENT_NETWORK -> "client network break";
            case CLIENT_PROTOCOL, BACKEND_PROTOCOL -> "malformed packet";
            case HANDSHAKE_TIMEOUT, CLIENT_TLS -> "client handshake fail";
            case BACKEND_AUTH -> "auth fail";
            case BACKEND_CONNECT -> "get backend fail";
            case BACKEND_NETWORK -> "backend network break";
            case PROXY_LIMIT -> "connection limit";
            case IDLE_TIMEOUT -> "idle timeout";
            case BACKEND_DRAINED -> "backend drained";
            case PROXY_SHUTDOWN -> "proxy shutdown";
            case KILLED -> "killed";
        };
    }
}
