package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.ServerStatus;
import io.tiproxy.protocol.Wire;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * Follows every command of a session to the final packet of its response and keeps what decides
 * whether the session may move to another backend: transaction status, prepared statements, open
 * cursors, pending long data, unfinished results, LOAD DATA LOCAL, authentication exchanges.
 *
 * <p>Fed from one event loop: {@link #onCommand} for each client command (first frame, header
 * included), {@link #onClientData} for client packets inside an exchange (auth data, file contents),
 * {@link #onServerPacket} for the first frame of each server packet. Only headers, terminal packets
 * and prepare responses are decoded; rows are never looked at beyond their first byte.
 */
public final class CommandTracker {

    /** MariaDB: a statement id of 0xFFFFFFFF in COM_STMT_EXECUTE means "the statement prepared last". */
    static final long LAST_PREPARED_ID = 0xFFFFFFFFL;
    /** A command naming the statement of a prepare still in flight. */
    private static final long UNRESOLVED = -2;
    private static final int CURSOR_TYPE_READ_ONLY = 0x01;

    /** Where the response to the oldest unanswered command stands. */
    enum Phase {
        /** Expecting OK, ERR, LOCAL INFILE request or a column count. */
        RESULT_START,
        COLUMN_DEFS,
        COLUMN_DEFS_EOF,
        ROWS,
        /** Client is sending a file for LOAD DATA LOCAL; ends with an empty packet. */
        INFILE_DATA,
        /** File sent; expecting OK or ERR. */
        INFILE_RESULT,
        PREPARE_OK,
        PREPARE_PARAMS,
        PREPARE_PARAMS_EOF,
        PREPARE_COLUMNS,
        PREPARE_COLUMNS_EOF,
        FIELD_LIST,
        FETCH_ROWS,
        /** Authentication exchange of COM_CHANGE_USER. */
        AUTH,
        SINGLE
    }

    /** Receives the response of a command the proxy itself sent (the packets are not forwarded). */
    public interface ResponseListener {
        /** One packet of the response; {@code start} is the index of its header in {@code buf}. */
        void onResponsePacket(ByteBuf buf, int start);

        /** The response is complete. */
        void onResponseEnd();
    }

    /** Told when the response to a client command (not the proxy's own) ends. */
    public interface CommandListener {
        void onCommandDone(Command command, long startNanos);
    }

    /** Told about every OK/EOF packet that carries session-state changes (CLIENT_SESSION_TRACK). */
    public interface SessionStateListener {
        /** @param p index of the OK payload (its 0x00 or 0xFE header byte), {@code len} its length */
        void onSessionStateChanged(ByteBuf buf, int p, int len);
    }

    /** A prepared statement as the client knows it. */
    public record PreparedStatement(long id, byte[] sql, int paramCount, int columnCount) {}

    /** One command whose response has not ended yet. */
    private static final class InFlight {
        final Command command;
        /** Client statement id; {@link #UNRESOLVED} until the prepare it refers to (MariaDB's -1) completes. */
        long statementId;
        final boolean cursorRequested;
        final byte[] prepareSql;
        ResponseListener listener;
        final long startNanos = System.nanoTime();
        /** An EXECUTE naming a prepare in flight: its payload, to read parameter types once that completes. */
        byte[] unresolvedExecute;
        Phase phase;
        long remaining;
        long preparedId;
        int preparedColumns;
        int preparedParams;

        InFlight(Command command, long statementId, boolean cursorRequested, byte[] prepareSql, Phase phase) {
            this.command = command;
            this.statementId = statementId;
            this.cursorRequested = cursorRequested;
            this.prepareSql = prepareSql;
            this.phase = phase;
        }
    }

    private final boolean deprecateEof;
    private final ArrayDeque<InFlight> inFlight = new ArrayDeque<>();
    private final Map<Long, PreparedStatement> statements = new HashMap<>();
    private final Set<Long> openCursors = new HashSet<>();
    private final Set<Long> pendingLongData = new HashSet<>();
    private long lastPreparedId = -1;
    private int serverStatus = ServerStatus.SERVER_STATUS_AUTOCOMMIT;
    private SessionStateListener sessionStateListener;
    private CommandListener commandListener;
    private boolean lastWasOk;
    private final Map<Long, byte[]> paramTypes = new HashMap<>();

    /** @param deprecateEof whether CLIENT_DEPRECATE_EOF was negotiated with the backend */
    public CommandTracker(boolean deprecateEof) {
        this.deprecateEof = deprecateEof;
    }

    public void setSessionStateListener(SessionStateListener listener) {
        this.sessionStateListener = listener;
    }

    public void setCommandListener(CommandListener listener) {
        this.commandListener = listener;
    }

    // ---- client side -------------------------------------------------------------------------

    /**
     * Records a command the proxy sends on its own behalf; its response goes to {@code listener}
     * and must not reach the client. Only COM_QUERY, COM_STMT_PREPARE and COM_INIT_DB are used so.
     */
    public void onInternalCommand(Command command, ByteBuf packet, ResponseListener listener) {
        onCommand(command, packet);
        InFlight last = inFlight.peekLast();
        if (last == null || last.command != command) {
            throw new IllegalArgumentException(command + " has no response to listen to");
        }
        last.listener = listener;
    }

    /** Records a command the client sends (a packet with sequence id 0). */
    public void onCommand(Command command, ByteBuf packet) {
        int p = packet.readerIndex() + Wire.HEADER_SIZE;
        int payload = Packets.payloadLength(packet);
        switch (command) {
            case COM_STMT_PREPARE -> {
                byte[] sql = new byte[payload - 1];
                packet.getBytes(p + 1, sql);
                inFlight.add(new InFlight(command, -1, false, sql, Phase.PREPARE_OK));
            }
            case COM_STMT_EXECUTE -> {
                long id = resolve(statementId(packet, payload));
                boolean cursor = payload >= 6 && (packet.getUnsignedByte(p + 5) & CURSOR_TYPE_READ_ONLY) != 0;
                pendingLongData.remove(id);
                openCursors.remove(id);
                InFlight execute = new InFlight(command, id, cursor, null, Phase.RESULT_START);
                if (id == UNRESOLVED) {
                    execute.unresolvedExecute = new byte[Math.min(payload, 64 * 1024)];
                    packet.getBytes(p, execute.unresolvedExecute);
                } else {
                    rememberParameterTypes(id, packet, p, payload);
                }
                inFlight.add(execute);
            }
            case COM_STMT_FETCH -> inFlight.add(new InFlight(command, resolve(statementId(packet, payload)),
                    false, null, Phase.FETCH_ROWS));
            case COM_STMT_SEND_LONG_DATA -> {
                long id = resolve(statementId(packet, payload));
                if (id != UNRESOLVED) {
                    pendingLongData.add(id);
                }
            }
            case COM_STMT_CLOSE -> forget(resolve(statementId(packet, payload)));
            case COM_STMT_RESET -> inFlight.add(new InFlight(command, resolve(statementId(packet, payload)),
                    false, null, Phase.SINGLE));
            case COM_QUIT -> { }
            default -> inFlight.add(new InFlight(command, -1, false, null, initialPhase(command)));
        }
    }

    /** EXECUTE: [flags, iterations, null bitmap, new-params-bound flag, types...]: keep the types when sent. */
    private void rememberParameterTypes(long id, ByteBuf packet, int p, int payload) {
        PreparedStatement st = statements.get(id);
        if (st == null || st.paramCount() == 0) {
            return;
        }
        int n = st.paramCount();
        int flagIndex = p + 10 + (n + 7) / 8;
        if (flagIndex < p + payload && packet.getUnsignedByte(flagIndex) == 1 && flagIndex + 2 * n < p + payload) {
            byte[] types = new byte[2 * n];
            packet.getBytes(flagIndex + 1, types);
            paramTypes.put(id, types);
        }
    }

    private static Phase initialPhase(Command command) {
        return switch (command.shape()) {
            case RESULT -> Phase.RESULT_START;
            case FIELD_LIST -> Phase.FIELD_LIST;
            case AUTH -> Phase.AUTH;
            case SINGLE, UNSUPPORTED -> Phase.SINGLE;
            case PREPARE -> Phase.PREPARE_OK;
            case FETCH -> Phase.FETCH_ROWS;
            case NONE -> throw new IllegalArgumentException(command + " has no response");
        };
    }

    /** Whether the current exchange expects packets from the client (auth data or a LOCAL INFILE file). */
    public boolean expectsClientData() {
        InFlight head = inFlight.peek();
        return head != null && (head.phase == Phase.AUTH || head.phase == Phase.INFILE_DATA);
    }

    /** Records a client packet inside an exchange (sequence id > 0). */
    public void onClientData(ByteBuf packet) {
        InFlight head = inFlight.peek();
        if (head != null && head.phase == Phase.INFILE_DATA && Packets.payloadLength(packet) == 0) {
            head.phase = Phase.INFILE_RESULT;
        }
    }

    // ---- server side -------------------------------------------------------------------------

    /**
     * Records the first frame of a server packet; {@code start} is the index of its header in {@code buf}.
     *
     * @return true if the packet answers a command of the proxy's own (it must not be forwarded)
     */
    public boolean onServerPacket(ByteBuf buf, int start) {
        InFlight head = inFlight.peek();
        if (head == null) {
            throw new MalformedPacketException("backend sent a packet while no command was pending");
        }
        ResponseListener listener = head.listener;
        lastWasOk = false;
        track(head, buf, start);
        if (listener != null) {
            listener.onResponsePacket(buf, start);
            if (inFlight.peek() != head) {
                listener.onResponseEnd();
            }
            return true;
        }
        return false;
    }

    /**
     * Whether a server packet, of which only the header and first payload byte need be in {@code buf}, is a
     * row of a result the client gets unchanged. Rows need no tracking (only the packet after the last one
     * does), so such a packet may be forwarded before it is complete. Rows answering the proxy's own
     * commands are not: their listener reads them whole.
     */
    public boolean isForwardedRow(ByteBuf buf, int start) {
        InFlight head = inFlight.peek();
        if (head == null || head.listener != null || (head.phase != Phase.ROWS && head.phase != Phase.FETCH_ROWS)) {
            return false;
        }
        int len = Wire.payloadLength(buf, start);
        if (len == 0) {
            return false;
        }
        int first = buf.getUnsignedByte(start + Wire.HEADER_SIZE);
        return first != Packets.ERR_HEADER && !isEnd(len, first);
    }

    /** The oldest unanswered command, or null. */
    public Command headCommand() {
        InFlight head = inFlight.peek();
        return head == null ? null : head.command;
    }

    /** Whether the next server packet is the first packet of a prepare response. */
    public boolean expectsPrepareOk() {
        InFlight head = inFlight.peek();
        return head != null && head.phase == Phase.PREPARE_OK;
    }

    /** Whether the packet just tracked was an OK packet (header 0x00, or 0xFE closing a result with DEPRECATE_EOF). */
    public boolean lastPacketWasOk() {
        return lastWasOk;
    }

    /** Whether a prepare is waiting for its response (a MariaDB EXECUTE with id -1 then refers to it). */
    public boolean prepareInFlight() {
        for (InFlight f : inFlight) {
            if (f.command == Command.COM_STMT_PREPARE) {
                return true;
            }
        }
        return false;
    }

    /** Client id of the statement prepared last, or -1. */
    public long lastPreparedId() {
        return lastPreparedId;
    }

    /** Forgets every unanswered command: the backend connection they were sent on is gone. */
    public void abandonInFlight() {
        inFlight.clear();
        openCursors.clear();
        pendingLongData.clear();
        serverStatus = ServerStatus.SERVER_STATUS_AUTOCOMMIT; // an open transaction died with the connection
    }

    /** Parameter types last sent for a statement (2 bytes each), or null. */
    public byte[] parameterTypes(long id) {
        return paramTypes.get(id);
    }

    /** Whether the oldest unanswered command is one of the proxy's own. */
    public boolean headIsInternal() {
        InFlight head = inFlight.peek();
        return head != null && head.listener != null;
    }

    private void track(InFlight head, ByteBuf buf, int start) {
        int len = Wire.payloadLength(buf, start);
        int p = start + Wire.HEADER_SIZE;
        int first = len == 0 ? -1 : buf.getUnsignedByte(p);
        switch (head.phase) {
            case RESULT_START -> resultStart(head, buf, p, len, first);
            case COLUMN_DEFS -> {
                if (--head.remaining == 0) {
                    head.phase = deprecateEof ? Phase.ROWS : Phase.COLUMN_DEFS_EOF;
                }
            }
            case COLUMN_DEFS_EOF -> {
                if (first != Packets.EOF_HEADER || len >= 9) {
                    throw new MalformedPacketException("expected EOF after column definitions");
                }
                int status = ResponseFields.eofStatus(buf, p, len);
                serverStatus = status;
                if (head.cursorRequested && ServerStatus.has(status, ServerStatus.SERVER_STATUS_CURSOR_EXISTS)) {
                    openCursors.add(head.statementId);
                    finish(status);
                } else {
                    head.phase = Phase.ROWS;
                }
            }
            case ROWS -> rows(head, buf, p, len, first);
            case INFILE_DATA -> throw new MalformedPacketException("backend sent a packet while the client was sending a file");
            case INFILE_RESULT, SINGLE -> singleEnd(head, buf, p, len, first);
            case PREPARE_OK -> prepareOk(head, buf, p, len, first);
            case PREPARE_PARAMS -> {
                if (--head.remaining == 0) {
                    head.phase = deprecateEof ? afterPrepareParams(head) : Phase.PREPARE_PARAMS_EOF;
                    if (head.phase == null) {
                        prepareDone(head);
                    }
                }
            }
            case PREPARE_PARAMS_EOF -> {
                head.phase = afterPrepareParams(head);
                if (head.phase == null) {
                    prepareDone(head);
                }
            }
            case PREPARE_COLUMNS -> {
                if (--head.remaining == 0) {
                    if (deprecateEof) {
                        prepareDone(head);
                    } else {
                        head.phase = Phase.PREPARE_COLUMNS_EOF;
                    }
                }
            }
            case PREPARE_COLUMNS_EOF -> prepareDone(head);
            case FIELD_LIST -> {
                if (first == Packets.ERR_HEADER) {
                    finish(-1);
                } else if (isEnd(len, first)) {
                    finish(endStatus(buf, p, len));
                }
            }
            case FETCH_ROWS -> {
                if (first == Packets.ERR_HEADER) {
                    openCursors.remove(head.statementId);
                    finish(-1);
                } else if (isEnd(len, first)) {
                    int status = endStatus(buf, p, len);
                    if (ServerStatus.has(status, ServerStatus.SERVER_STATUS_LAST_ROW_SENT)
                            || !ServerStatus.has(status, ServerStatus.SERVER_STATUS_CURSOR_EXISTS)) {
                        openCursors.remove(head.statementId);
                    }
                    finish(status);
                }
            }
            case AUTH -> {
                if (first == Packets.OK_HEADER) {
                    resetSessionObjects();
                    finish(okStatus(buf, p, len));
                } else if (first == Packets.ERR_HEADER) {
                    // MariaDB has already reset the session when it refuses the new user
                    resetSessionObjects();
                    finish(serverStatus & ~(ServerStatus.SERVER_STATUS_IN_TRANS | ServerStatus.SERVER_STATUS_IN_TRANS_READONLY));
                }
            }
        }
    }

    private void resultStart(InFlight head, ByteBuf buf, int p, int len, int first) {
        if (len == 0) {
            throw new MalformedPacketException("empty packet where a result should start");
        }
        switch (first) {
            case Packets.OK_HEADER -> resultEnd(head, okStatus(buf, p, len));
            case Packets.ERR_HEADER -> finish(-1);
            case Packets.LOCAL_INFILE_HEADER -> head.phase = Phase.INFILE_DATA;
            default -> {
                if (first == Packets.EOF_HEADER && len < 9) {
                    resultEnd(head, ResponseFields.eofStatus(buf, p, len));
                    return;
                }
                long columns = ResponseFields.columnCount(buf, p, len);
                if (columns <= 0) {
                    throw new MalformedPacketException("invalid column count " + columns);
                }
                head.remaining = columns;
                head.phase = Phase.COLUMN_DEFS;
            }
        }
    }

    private void rows(InFlight head, ByteBuf buf, int p, int len, int first) {
        if (first == Packets.ERR_HEADER) {
            finish(-1);
        } else if (isEnd(len, first)) {
            int status = endStatus(buf, p, len);
            if (head.cursorRequested && ServerStatus.has(status, ServerStatus.SERVER_STATUS_CURSOR_EXISTS)) {
                openCursors.add(head.statementId);
            }
            resultEnd(head, status);
        }
    }

    /** End of one result: more may follow. */
    private void resultEnd(InFlight head, int status) {
        if (ServerStatus.has(status, ServerStatus.SERVER_MORE_RESULTS_EXISTS)) {
            serverStatus = status;
            head.phase = Phase.RESULT_START;
        } else {
            finish(status);
        }
    }

    private void singleEnd(InFlight head, ByteBuf buf, int p, int len, int first) {
        int status = -1;
        if (first == Packets.OK_HEADER) {
            status = okStatus(buf, p, len);
            if (head.command == Command.COM_RESET_CONNECTION) {
                resetSessionObjects();
            } else if (head.command == Command.COM_STMT_RESET) {
                pendingLongData.remove(head.statementId);
                openCursors.remove(head.statementId);
            }
            if (head.phase == Phase.INFILE_RESULT) {
                resultEnd(head, status);
                return;
            }
        } else if (isEnd(len, first)) {
            status = endStatus(buf, p, len);
        }
        finish(status);
    }

    private void prepareOk(InFlight head, ByteBuf buf, int p, int len, int first) {
        if (first == Packets.ERR_HEADER) {
            finish(-1);
            return;
        }
        if (first != Packets.OK_HEADER || len < 12) {
            throw new MalformedPacketException("unexpected prepare response header " + first);
        }
        head.preparedId = buf.getUnsignedIntLE(p + 1);
        head.preparedColumns = buf.getUnsignedShortLE(p + 5);
        head.preparedParams = buf.getUnsignedShortLE(p + 7);
        if (head.preparedParams > 0) {
            head.remaining = head.preparedParams;
            head.phase = Phase.PREPARE_PARAMS;
        } else {
            head.phase = afterPrepareParams(head);
            if (head.phase == null) {
                prepareDone(head);
            }
        }
    }

    /** The phase after the parameter definitions, or null when the prepare response is complete. */
    private Phase afterPrepareParams(InFlight head) {
        if (head.preparedColumns > 0) {
            head.remaining = head.preparedColumns;
            return Phase.PREPARE_COLUMNS;
        }
        return null;
    }

    private void prepareDone(InFlight head) {
        statements.put(head.preparedId, new PreparedStatement(head.preparedId, head.prepareSql,
                head.preparedParams, head.preparedColumns));
        lastPreparedId = head.preparedId;
        // commands pipelined behind this prepare that named "the last prepared statement"
        boolean after = false;
        for (InFlight f : inFlight) {
            if (f == head) {
                after = true;
            } else if (after && f.command == Command.COM_STMT_PREPARE) {
                break;
            } else if (after && f.statementId == UNRESOLVED) {
                f.statementId = head.preparedId;
                if (f.unresolvedExecute != null) {
                    ByteBuf copy = io.netty.buffer.Unpooled.wrappedBuffer(f.unresolvedExecute);
                    rememberParameterTypes(head.preparedId, copy, 0, f.unresolvedExecute.length);
                    f.unresolvedExecute = null;
                }
            }
        }
        finish(-1);
    }

    private void finish(int status) {
        if (status >= 0) {
            serverStatus = status;
        }
        InFlight done = inFlight.poll();
        if (done != null && done.listener == null && commandListener != null) {
            commandListener.onCommandDone(done.command, done.startNanos);
        }
    }

    private void forget(long id) {
        statements.remove(id);
        paramTypes.remove(id);
        openCursors.remove(id);
        pendingLongData.remove(id);
    }

    private void resetSessionObjects() {
        statements.clear();
        paramTypes.clear();
        openCursors.clear();
        pendingLongData.clear();
        lastPreparedId = -1;
    }

    private long resolve(long id) {
        if (id != LAST_PREPARED_ID) {
            return id;
        }
        return prepareInFlight() ? UNRESOLVED : lastPreparedId;
    }

    private static long statementId(ByteBuf packet, int payload) {
        if (payload < 5) {
            throw new MalformedPacketException("statement command without statement id");
        }
        return packet.getUnsignedIntLE(packet.readerIndex() + Wire.HEADER_SIZE + 1);
    }

    // ---- terminal packet decoding ------------------------------------------------------------

    private boolean isEnd(int len, int first) {
        return first == Packets.EOF_HEADER && (deprecateEof ? len < Wire.MAX_PAYLOAD : len < 9);
    }

    /** Status of a result-set end: EOF (classic) or OK with header 0xFE (deprecate EOF). */
    private int endStatus(ByteBuf buf, int p, int len) {
        return len == 5 ? ResponseFields.eofStatus(buf, p, len) : okStatus(buf, p, len);
    }

    /** Status flags of an OK packet at payload index p (header, affected rows, last insert id, status). */
    private int okStatus(ByteBuf buf, int p, int len) {
        int status = ResponseFields.okStatus(buf, p, len);
        lastWasOk = true;
        if (sessionStateListener != null && ServerStatus.has(status, ServerStatus.SERVER_SESSION_STATE_CHANGED)) {
            sessionStateListener.onSessionStateChanged(buf, p, len);
        }
        return status;
    }

    // ---- state for callers -------------------------------------------------------------------

    /** No command is waiting for (the rest of) its response. */
    public boolean isIdle() {
        return inFlight.isEmpty();
    }

    public boolean inTransaction() {
        return ServerStatus.has(serverStatus, ServerStatus.SERVER_STATUS_IN_TRANS);
    }

    public int serverStatus() {
        return serverStatus;
    }

    public boolean hasOpenCursor() {
        return !openCursors.isEmpty();
    }

    public boolean hasPendingLongData() {
        return !pendingLongData.isEmpty();
    }

    /** A command with a response in progress is a LOAD DATA LOCAL transfer. */
    public boolean inLoadData() {
        InFlight head = inFlight.peek();
        return head != null && (head.phase == Phase.INFILE_DATA || head.phase == Phase.INFILE_RESULT);
    }

    /** Multi-statement or multi-result response in progress. */
    public boolean inMultiResult() {
        InFlight head = inFlight.peek();
        return head != null && head.phase == Phase.RESULT_START && ServerStatus.has(serverStatus, ServerStatus.SERVER_MORE_RESULTS_EXISTS);
    }

    public Map<Long, PreparedStatement> preparedStatements() {
        return Collections.unmodifiableMap(statements);
    }

    /** Why the session cannot move now, or null if it is at a safe point. */
    public String notSafeReason() {
        if (!inFlight.isEmpty()) {
            return "a command is in progress";
        }
        if (inTransaction()) {
            return "a transaction is open";
        }
        if (!openCursors.isEmpty()) {
            return "a cursor is open";
        }
        if (!pendingLongData.isEmpty()) {
            return "a prepared statement has pending long data";
        }
        return null;
    }

    public boolean isSafeToMigrate() {
        return notSafeReason() == null;
    }
}
