package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.PacketBytes;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.tiproxy.protocol.PacketBytes.*;
import static io.tiproxy.protocol.ServerStatus.*;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The tracker against the exact packet sequences a MySQL/MariaDB server sends, with and without
 * CLIENT_DEPRECATE_EOF. Server packets are fed one logical packet per buffer, exactly sized and
 * preceded by unrelated bytes, so a read outside the packet or a wrong start index fails the test.
 */
@ParameterizedClass(name = "deprecateEof={0}")
@ValueSource(booleans = {false, true})
class CommandTrackerTest {

    private static final int AC = SERVER_STATUS_AUTOCOMMIT;
    private static final byte[] JUNK = hex("a5a5a5");

    private final boolean deprecateEof;
    private final CommandTracker tracker;

    CommandTrackerTest(boolean deprecateEof) {
        this.deprecateEof = deprecateEof;
        this.tracker = new CommandTracker(deprecateEof);
    }

    // ---- feeding ---------------------------------------------------------------------------------

    /** The client sends a command (sequence id 0). */
    private void send(byte[] commandPayload) {
        ByteBuf packet = Unpooled.wrappedBuffer(concat(JUNK, packet(0, commandPayload)));
        packet.skipBytes(JUNK.length);
        try {
            tracker.onCommand(Command.of(commandPayload[0] & 0xff), packet);
        } finally {
            packet.release();
        }
    }

    /** The client sends a packet inside an exchange (auth data, file contents). */
    private void clientData(int sequenceId, byte[] payload) {
        ByteBuf packet = Unpooled.wrappedBuffer(concat(JUNK, packet(sequenceId, payload)));
        packet.skipBytes(JUNK.length);
        try {
            tracker.onClientData(packet);
        } finally {
            packet.release();
        }
    }

    /** The server sends these payloads, numbered from {@code firstSeq}; the tracker sees the first frame of each. */
    private List<Boolean> serveFrom(int firstSeq, List<byte[]> payloads) {
        Stream s = new Stream(firstSeq).addAll(payloads);
        List<Boolean> internal = new ArrayList<>();
        for (byte[] logical : s.packets()) {
            ByteBuf buf = Unpooled.wrappedBuffer(concat(JUNK, logical));
            try {
                internal.add(tracker.onServerPacket(buf, JUNK.length));
            } finally {
                buf.release();
            }
        }
        return internal;
    }

    private List<Boolean> serve(List<byte[]> payloads) {
        return serveFrom(1, payloads);
    }

    private List<Boolean> serve(byte[]... payloads) {
        return serve(List.of(payloads));
    }

    // ---- responses as servers send them --------------------------------------------------------

    private static List<byte[]> list(Object... parts) {
        List<byte[]> out = new ArrayList<>();
        for (Object p : parts) {
            if (p instanceof byte[] b) {
                out.add(b);
            } else {
                @SuppressWarnings("unchecked")
                List<byte[]> l = (List<byte[]>) p;
                out.addAll(l);
            }
        }
        return out;
    }

    private byte[] end(int status) {
        return resultSetEnd(deprecateEof, status);
    }

    /** Column definitions and, without deprecate-EOF, their EOF. */
    private List<byte[]> defs(int status, String... names) {
        List<byte[]> out = new ArrayList<>();
        for (String n : names) {
            out.add(columnDef(n));
        }
        if (!deprecateEof) {
            out.add(eof(status));
        }
        return out;
    }

    /** A text result set of one-column rows. */
    private List<byte[]> resultSet(int status, String column, String... rows) {
        List<byte[]> out = list(columnCount(1), defs(status, column));
        for (String r : rows) {
            out.add(textRow(r));
        }
        out.add(end(status));
        return out;
    }

    private List<byte[]> prepareResponse(long id, int columns, int params) {
        List<byte[]> out = list(prepareOk(id, columns, params, 0));
        if (params > 0) {
            for (int i = 0; i < params; i++) {
                out.add(columnDef("", "", "?", MYSQL_TYPE_VAR_STRING, CHARSET_BINARY, 0));
            }
            if (!deprecateEof) {
                out.add(eof(AC));
            }
        }
        if (columns > 0) {
            for (int i = 0; i < columns; i++) {
                out.add(columnDef("c" + i));
            }
            if (!deprecateEof) {
                out.add(eof(AC));
            }
        }
        return out;
    }

    private void prepare(long id, String sql, int columns, int params) {
        send(comStmtPrepare(sql));
        serve(prepareResponse(id, columns, params));
        assertThat(tracker.isIdle()).isTrue();
    }

    /** What a server answers to an EXECUTE that opened a cursor: metadata and an end with CURSOR_EXISTS, no rows. */
    private List<byte[]> cursorOpened(int columns) {
        List<byte[]> out = list(columnCount(columns));
        for (int i = 0; i < columns; i++) {
            out.add(columnDef("c" + i));
        }
        out.add(deprecateEof ? okEof(AC | SERVER_STATUS_CURSOR_EXISTS) : eof(AC | SERVER_STATUS_CURSOR_EXISTS));
        return out;
    }

    // ---- COM_QUERY -------------------------------------------------------------------------------

    @Test
    void queryAnsweredByOk() {
        send(comQuery("UPDATE t SET a = 1"));
        assertThat(tracker.isIdle()).isFalse();
        serve(ok(3, 0, AC, 0, "Rows matched: 3  Changed: 3  Warnings: 0"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC);
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void okStatusIsFoundBehindMultiByteLengthEncodedCounts() {
        send(comQuery("INSERT INTO t SELECT ..."));
        serve(ok(70_000, 1L << 40, AC | SERVER_STATUS_IN_TRANS, 2, null));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC | SERVER_STATUS_IN_TRANS);
        send(comQuery("INSERT INTO t VALUES (1)"));
        serve(ok(1, 0x1234567, AC, 0, null));
        assertThat(tracker.serverStatus()).isEqualTo(AC);
    }

    @Test
    void queryAnsweredByErrKeepsTheLastStatus() {
        send(comQuery("BEGIN"));
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        send(comQuery("SELEC 1"));
        serve(err(1064, "42000", "You have an error in your SQL syntax"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.inTransaction()).isTrue();
    }

    @Test
    void textResultSetEndsOnlyAtItsEnd() {
        send(comQuery("SELECT id, name, note FROM t"));
        List<byte[]> response = list(columnCount(3), defs(AC, "id", "name", "note"),
                textRow("1", "alice", null), textRow("2", "", "x".repeat(300)), textRow(null, null, null),
                end(AC));
        for (int i = 0; i < response.size() - 1; i++) {
            serveFrom(1 + i, List.of(response.get(i)));
            assertThat(tracker.isIdle()).as("after packet %d", i).isFalse();
            assertThat(tracker.isSafeToMigrate()).isFalse();
        }
        serveFrom(response.size(), List.of(response.get(response.size() - 1)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void emptyResultSetEnds() {
        send(comQuery("SELECT a FROM t WHERE 0"));
        serve(resultSet(AC, "a"));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void resultSetWithManyColumnsUsesALengthEncodedColumnCount() {
        String[] names = new String[300];
        for (int i = 0; i < names.length; i++) {
            names[i] = "c" + i;
        }
        String[] row = new String[300];
        Arrays.fill(row, "v");
        send(comQuery("SELECT * FROM wide"));
        serve(list(columnCount(300), defs(AC, names), textRow(row), end(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void rowOf16MiBOrMoreStartingWith0xFEDoesNotEndTheResult() {
        // a text row whose first value is at least 2^24 bytes starts with the lenenc prefix 0xFE,
        // and its first frame is a full 0xFFFFFF frame: never an EOF or a 0xFE-OK
        byte[] big = PacketBytes.bytes().lenenc(MAX_FRAME + 10L).bytes(filled(MAX_FRAME + 10, 'b')).build();
        assertThat(big[0] & 0xff).isEqualTo(0xfe);
        send(comQuery("SELECT big FROM blobs"));
        List<byte[]> head = list(columnCount(1), defs(AC, "big"));
        serve(head);
        serveFrom(1 + head.size(), List.of(big));
        assertThat(tracker.isIdle()).as("a 16 MiB row is not the end").isFalse();
        serveFrom(1 + head.size() + 2, List.of(end(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void withoutDeprecateEofA0xFEPacketOfNineBytesOrMoreIsARowNotAnEof() {
        assumeFalse(deprecateEof);
        send(comQuery("SELECT a FROM t"));
        serve(list(columnCount(1), defs(AC, "a")));
        serveFrom(4, List.of(concat(hex("fe"), filled(8, 'x'))));
        serveFrom(5, List.of(concat(hex("fe"), filled(100, 'y'))));
        assertThat(tracker.isIdle()).isFalse();
        serveFrom(6, List.of(eof(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void withDeprecateEofAnOkEndOfResultSetWithSessionStateInfoEnds() {
        assumeTrue(deprecateEof);
        send(comQuery("SELECT a FROM t"));
        // an OK with header 0xFE longer than 9 bytes: info text and session-state data
        byte[] longOkEnd = okWithHeader(0xfe, 0, 0, AC | SERVER_SESSION_STATE_CHANGED, 0, "\u0000\u0005\u0001\u0003\u0002db");
        assertThat(longOkEnd.length).isGreaterThanOrEqualTo(9);
        serve(list(columnCount(1), defs(AC, "a"), textRow("1"), longOkEnd));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC | SERVER_SESSION_STATE_CHANGED);
    }

    @Test
    void rowsStartingWithNullOrSmallValuesAreRows() {
        send(comQuery("SELECT a FROM t"));
        serve(list(columnCount(1), defs(AC, "a"), textRow((String) null), textRow(""), textRow("\u00ff"), end(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    /** Whether the tracker would let this packet be forwarded before it is complete. */
    private boolean forwardedUnseen(int sequenceId, byte[] payload) {
        ByteBuf buf = Unpooled.wrappedBuffer(concat(JUNK, packet(sequenceId, payload)));
        try {
            return tracker.isForwardedRow(buf, JUNK.length);
        } finally {
            buf.release();
        }
    }

    @Test
    void onlyRowsOfAForwardedResultMayBeForwardedUnseen() {
        send(comQuery("SELECT a FROM t"));
        assertThat(forwardedUnseen(1, columnCount(1))).as("the column count").isFalse();
        List<byte[]> head = list(columnCount(1), defs(AC, "a"));
        serve(head);
        int seq = 1 + head.size();
        assertThat(forwardedUnseen(seq, textRow("1"))).isTrue();
        assertThat(forwardedUnseen(seq, textRow((String) null))).as("a row starting with NULL (0xFB)").isTrue();
        assertThat(forwardedUnseen(seq, err(1317, "70100", "Query execution was interrupted"))).isFalse();
        assertThat(forwardedUnseen(seq, end(AC))).as("the end of the result").isFalse();
        serveFrom(seq, List.of(textRow("1"), end(AC)));
        assertThat(forwardedUnseen(seq + 2, textRow("1"))).as("nothing pending").isFalse();

        send(comQuery("SELECT 1"));
        assertThat(forwardedUnseen(1, okWithHeader(0x00, 0, 0, AC, 0, ""))).as("an OK").isFalse();
    }

    @Test
    void resultSetEndedByErrMidway() {
        send(comQuery("SELECT a FROM t"));
        serve(list(columnCount(1), defs(AC, "a"), textRow("1"), err(1317, "70100", "Query execution was interrupted")));
        assertThat(tracker.isIdle()).isTrue();
    }

    // ---- multi-statements and multi-results ---------------------------------------------------------

    @Test
    void multiStatementChainsEndAtTheResultWithoutMoreResults() {
        send(comQuery("SELECT 1; SELECT 2; UPDATE t SET a = a"));
        int more = AC | SERVER_MORE_RESULTS_EXISTS;
        serve(resultSet(more, "1", "1"));
        assertThat(tracker.isIdle()).isFalse();
        assertThat(tracker.inMultiResult()).isTrue();
        assertThat(tracker.notSafeReason()).isNotNull();
        serve(resultSet(more, "2", "2"));
        assertThat(tracker.inMultiResult()).isTrue();
        serve(ok(5, 0, AC, 0, "Rows matched: 5  Changed: 0  Warnings: 0"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.inMultiResult()).isFalse();
        assertThat(tracker.serverStatus()).isEqualTo(AC);
    }

    @Test
    void multiStatementStartingWithOkContinues() {
        send(comQuery("SET @a = 1; SELECT @a"));
        serve(ok(AC | SERVER_MORE_RESULTS_EXISTS));
        assertThat(tracker.isIdle()).isFalse();
        assertThat(tracker.inMultiResult()).isTrue();
        serve(resultSet(AC, "@a", "1"));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void storedProcedureCallEndsWithTheFinalOk() {
        send(comQuery("CALL p()"));
        int more = AC | SERVER_MORE_RESULTS_EXISTS;
        serve(list(resultSet(more, "a", "1", "2"), resultSet(more, "b", "3"), List.of(ok(0, 0, AC, 0, null))));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void multiResultEndedByErr() {
        send(comQuery("SELECT 1; SELECT * FROM missing; SELECT 3"));
        serve(resultSet(AC | SERVER_MORE_RESULTS_EXISTS, "1", "1"));
        assertThat(tracker.isIdle()).isFalse();
        serve(err(1146, "42S02", "Table 'test.missing' doesn't exist"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.inMultiResult()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    // ---- transactions ------------------------------------------------------------------------------

    @Test
    void transactionStatusFollowsOkAndEofFlags() {
        send(comQuery("START TRANSACTION"));
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        assertThat(tracker.inTransaction()).isTrue();
        assertThat(tracker.isSafeToMigrate()).isFalse();
        assertThat(tracker.notSafeReason()).contains("transaction");

        send(comQuery("SELECT a FROM t FOR UPDATE"));
        serve(resultSet(AC | SERVER_STATUS_IN_TRANS, "a", "1"));
        assertThat(tracker.inTransaction()).isTrue();

        send(comQuery("COMMIT"));
        serve(ok(AC));
        assertThat(tracker.inTransaction()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void implicitTransactionWithAutocommitOffIsSeenInAResultSetEnd() {
        send(comQuery("SET autocommit = 0"));
        serve(ok(0));
        assertThat(tracker.inTransaction()).isFalse();
        send(comQuery("SELECT a FROM t"));
        serve(resultSet(SERVER_STATUS_IN_TRANS, "a", "1"));
        assertThat(tracker.inTransaction()).isTrue();
        send(comQuery("ROLLBACK"));
        serve(ok(0));
        assertThat(tracker.inTransaction()).isFalse();
    }

    // ---- LOAD DATA LOCAL INFILE -----------------------------------------------------------------------

    @Test
    void loadDataLocalWaitsForTheFileAndTheFinalOk() {
        send(comQuery("LOAD DATA LOCAL INFILE '/tmp/rows.csv' INTO TABLE t"));
        assertThat(tracker.expectsClientData()).isFalse();
        serve(localInfileRequest("/tmp/rows.csv"));
        assertThat(tracker.expectsClientData()).isTrue();
        assertThat(tracker.inLoadData()).isTrue();
        assertThat(tracker.isSafeToMigrate()).isFalse();

        clientData(2, utf8("1,alice\n2,bob\n"));
        clientData(3, utf8("3,carol\n"));
        assertThat(tracker.expectsClientData()).isTrue();
        clientData(4, new byte[0]);
        assertThat(tracker.expectsClientData()).isFalse();
        assertThat(tracker.inLoadData()).isTrue();
        assertThat(tracker.isIdle()).isFalse();

        serveFrom(5, List.of(ok(3, 0, AC, 0, "Records: 3  Deleted: 0  Skipped: 0  Warnings: 0")));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.inLoadData()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void loadDataLocalEndedByErr() {
        send(comQuery("LOAD DATA LOCAL INFILE 'x' INTO TABLE missing"));
        serve(localInfileRequest("x"));
        clientData(2, new byte[0]);
        serveFrom(3, List.of(err(1146, "42S02", "Table 'test.missing' doesn't exist")));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.inLoadData()).isFalse();
    }

    @Test
    void loadDataLocalInsideAMultiStatementContinues() {
        send(comQuery("LOAD DATA LOCAL INFILE 'x' INTO TABLE t; SELECT 1"));
        serve(localInfileRequest("x"));
        clientData(2, utf8("1\n"));
        clientData(3, new byte[0]);
        serveFrom(4, List.of(ok(1, 0, AC | SERVER_MORE_RESULTS_EXISTS, 0, null)));
        assertThat(tracker.isIdle()).isFalse();
        serveFrom(5, resultSet(AC, "1", "1"));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void serverPacketWhileTheClientSendsAFileIsMalformed() {
        send(comQuery("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"));
        serve(localInfileRequest("x"));
        assertThatThrownBy(() -> serveFrom(2, List.of(ok(AC)))).isInstanceOf(MalformedPacketException.class);
    }

    // ---- prepared statements --------------------------------------------------------------------------

    @Test
    void prepareWithParamsAndColumnsRecordsTheStatement() {
        String sql = "SELECT a, b FROM t WHERE id = ? AND c = ?";
        send(comStmtPrepare(sql));
        List<byte[]> response = prepareResponse(1, 2, 2);
        for (int i = 0; i < response.size() - 1; i++) {
            serveFrom(1 + i, List.of(response.get(i)));
            assertThat(tracker.isIdle()).as("after packet %d", i).isFalse();
        }
        serveFrom(response.size(), List.of(response.get(response.size() - 1)));
        assertThat(tracker.isIdle()).isTrue();
        CommandTracker.PreparedStatement ps = tracker.preparedStatements().get(1L);
        assertThat(ps).isNotNull();
        assertThat(ps.id()).isEqualTo(1);
        assertThat(ps.sql()).isEqualTo(utf8(sql));
        assertThat(ps.paramCount()).isEqualTo(2);
        assertThat(ps.columnCount()).isEqualTo(2);
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void prepareWithoutParamsOrColumnsEndsAtThePrepareOk() {
        send(comStmtPrepare("DO 1"));
        serve(prepareOk(7, 0, 0, 0));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.preparedStatements().get(7L).paramCount()).isZero();
        assertThat(tracker.preparedStatements().get(7L).columnCount()).isZero();
    }

    @Test
    void prepareWithParamsOnly() {
        prepare(2, "INSERT INTO t VALUES (?, ?, ?)", 0, 3);
        assertThat(tracker.preparedStatements().get(2L).paramCount()).isEqualTo(3);
        assertThat(tracker.preparedStatements().get(2L).columnCount()).isZero();
    }

    @Test
    void prepareWithColumnsOnly() {
        prepare(3, "SELECT NOW(), 1", 2, 0);
        assertThat(tracker.preparedStatements().get(3L).paramCount()).isZero();
        assertThat(tracker.preparedStatements().get(3L).columnCount()).isEqualTo(2);
    }

    @Test
    void prepareWithUtf8SqlKeepsTheExactBytes() {
        String sql = "SELECT 'héllo ✓' FROM t WHERE x = ?";
        prepare(4, sql, 1, 1);
        assertThat(tracker.preparedStatements().get(4L).sql()).isEqualTo(utf8(sql));
    }

    @Test
    void prepareAnsweredByErrRecordsNothing() {
        send(comStmtPrepare("SELEC ?"));
        serve(err(1064, "42000", "You have an error in your SQL syntax"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.preparedStatements()).isEmpty();
    }

    @Test
    void truncatedPrepareOkIsMalformed() {
        send(comStmtPrepare("SELECT ?"));
        assertThatThrownBy(() -> serve(Arrays.copyOf(prepareOk(1, 1, 1, 0), 9)))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void executeWithBinaryRowsStartingWith0x00IsNotEndedByThem() {
        prepare(1, "SELECT a, b FROM t WHERE id > ?", 2, 1);
        send(comStmtExecute(1, CURSOR_TYPE_NO_CURSOR, 0));
        serve(list(columnCount(2), defs(AC, "a", "b"), binaryIntRow(1, 2), binaryIntRow(null, 3),
                binaryIntRow(null, null)));
        assertThat(tracker.isIdle()).as("binary rows start with 0x00 like an OK").isFalse();
        serveFrom(7 + (deprecateEof ? 0 : 1), List.of(end(AC)));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
    }

    @Test
    void executeAnsweredByOk() {
        prepare(1, "INSERT INTO t VALUES (?)", 0, 1);
        send(comStmtExecute(1, CURSOR_TYPE_NO_CURSOR, 42));
        serve(ok(1, 1, AC, 0, null));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void executeWithCursorOpensACursorThatFetchReadsToTheEnd() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isTrue();
        assertThat(tracker.isSafeToMigrate()).isFalse();
        assertThat(tracker.notSafeReason()).contains("cursor");

        send(comStmtFetch(1, 2));
        serve(binaryIntRow(1), binaryIntRow(2), end(AC | SERVER_STATUS_CURSOR_EXISTS));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isTrue();

        send(comStmtFetch(1, 2));
        serve(binaryIntRow(3), end(AC | SERVER_STATUS_CURSOR_EXISTS | SERVER_STATUS_LAST_ROW_SENT));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void fetchAnsweredByErrClosesTheCursor() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        send(comStmtFetch(1, 10));
        serve(err(1421, "HY000", "The statement (1) has no open cursor."));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
    }

    @Test
    void cursorRequestedButNotOpenedStreamsRowsAndLeavesNoCursor() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(list(columnCount(1), defs(AC, "a"), binaryIntRow(1), end(AC)));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
    }

    @Test
    void reExecutingAStatementClosesItsCursor() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        send(comStmtExecute(1, CURSOR_TYPE_NO_CURSOR));
        serve(list(columnCount(1), defs(AC, "a"), end(AC)));
        assertThat(tracker.hasOpenCursor()).isFalse();
    }

    @Test
    void sendLongDataIsPendingUntilExecute() {
        prepare(1, "INSERT INTO t (doc) VALUES (?)", 0, 1);
        send(comStmtSendLongData(1, 0, utf8("a long document, part 1")));
        send(comStmtSendLongData(1, 0, utf8("part 2")));
        assertThat(tracker.isIdle()).as("no response to SEND_LONG_DATA").isTrue();
        assertThat(tracker.hasPendingLongData()).isTrue();
        assertThat(tracker.isSafeToMigrate()).isFalse();
        assertThat(tracker.notSafeReason()).contains("long data");

        send(comStmtExecute(1, CURSOR_TYPE_NO_CURSOR));
        assertThat(tracker.hasPendingLongData()).isFalse();
        serve(ok(1, 1, AC, 0, null));
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void closeForgetsTheStatementItsCursorAndLongData() {
        prepare(1, "SELECT a FROM t WHERE b = ?", 1, 1);
        prepare(2, "SELECT 2", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY, 5));
        serve(cursorOpened(1));
        send(comStmtSendLongData(1, 0, utf8("x")));
        send(comStmtClose(1));
        assertThat(tracker.isIdle()).as("no response to COM_STMT_CLOSE").isTrue();
        assertThat(tracker.preparedStatements()).containsOnlyKeys(2L);
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.hasPendingLongData()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void resetClearsCursorAndLongDataButKeepsTheStatement() {
        prepare(1, "SELECT a FROM t WHERE b = ?", 1, 1);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY, 5));
        serve(cursorOpened(1));
        send(comStmtSendLongData(1, 0, utf8("x")));
        send(comStmtReset(1));
        assertThat(tracker.isIdle()).isFalse();
        serve(ok(AC));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.hasPendingLongData()).isFalse();
        assertThat(tracker.preparedStatements()).containsOnlyKeys(1L);
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void resetAnsweredByErrChangesNothing() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        send(comStmtReset(99));
        serve(err(1243, "HY000", "Unknown prepared statement handler (99) given to mysqld_stmt_reset"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isTrue();
    }

    @Test
    void mariaDbStatementIdMinusOneMeansTheLastPrepared() {
        prepare(5, "SELECT a FROM t", 1, 0);
        prepare(6, "SELECT b FROM t WHERE c = ?", 1, 1);
        send(comStmtSendLongData(0xFFFFFFFFL, 0, utf8("x")));
        send(comStmtExecute(0xFFFFFFFFL, CURSOR_TYPE_READ_ONLY, 1));
        assertThat(tracker.hasPendingLongData()).isFalse();
        serve(cursorOpened(1));
        assertThat(tracker.hasOpenCursor()).isTrue();
        send(comStmtClose(6));
        assertThat(tracker.hasOpenCursor()).as("the cursor belonged to statement 6").isFalse();
        assertThat(tracker.preparedStatements()).containsOnlyKeys(5L);
    }

    @Test
    void pipelinedPrepareAndExecuteAreAnsweredInOrder() {
        send(comStmtPrepare("INSERT INTO t VALUES (?)"));
        send(comStmtExecute(0xFFFFFFFFL, CURSOR_TYPE_NO_CURSOR, 1));
        serve(prepareResponse(1, 0, 1));
        assertThat(tracker.isIdle()).isFalse();
        assertThat(tracker.preparedStatements()).containsOnlyKeys(1L);
        serve(ok(1, 0, AC, 0, null));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void pipelinedExecuteOfTheLastPreparedStatementTracksTheCursorOfTheNewStatement() {
        send(comStmtPrepare("SELECT a FROM t"));
        send(comStmtExecute(0xFFFFFFFFL, CURSOR_TYPE_READ_ONLY));
        serve(prepareResponse(1, 1, 0));
        serve(cursorOpened(1));
        assertThat(tracker.hasOpenCursor()).isTrue();
        send(comStmtClose(1));
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void pipelinedExecuteOfTheLastPreparedStatementDoesNotTouchTheOlderStatement() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtPrepare("SELECT b FROM t"));
        send(comStmtExecute(0xFFFFFFFFL, CURSOR_TYPE_READ_ONLY));
        serve(prepareResponse(2, 1, 0));
        serve(cursorOpened(1));
        send(comStmtClose(2));
        assertThat(tracker.hasOpenCursor()).as("statement 2's cursor closed with it").isFalse();
    }

    // ---- other commands ----------------------------------------------------------------------------

    @Test
    void fieldListEndsAfterTheDefinitions() {
        send(comFieldList("t", ""));
        serve(columnDef("id"), columnDef("name"));
        assertThat(tracker.isIdle()).isFalse();
        serveFrom(3, List.of(end(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void fieldListAnsweredByErr() {
        send(comFieldList("missing", ""));
        serve(err(1146, "42S02", "Table 'test.missing' doesn't exist"));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void statisticsIsOneStringPacket() {
        send(comStatistics());
        serve(utf8("Uptime: 120  Threads: 1  Questions: 9  Slow queries: 0  Opens: 17  Open tables: 10  Queries per second avg: 0.075"));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC);
    }

    @Test
    void pingAndInitDbAreOneOk() {
        send(comPing());
        serve(ok(AC));
        assertThat(tracker.isIdle()).isTrue();
        send(comInitDb("shop"));
        serve(ok(0, 0, AC | SERVER_SESSION_STATE_CHANGED, 0, null));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC | SERVER_SESSION_STATE_CHANGED);
        send(comInitDb("missing"));
        serve(err(1049, "42000", "Unknown database 'missing'"));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void setOptionIsAnsweredByEof() {
        send(comSetOption(0));
        serve(end(AC));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.serverStatus()).isEqualTo(AC);
    }

    @Test
    void resetConnectionClearsStatementsCursorsLongDataAndTransaction() {
        prepare(1, "SELECT a FROM t", 1, 0);
        prepare(2, "INSERT INTO t VALUES (?)", 0, 1);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        send(comStmtSendLongData(2, 0, utf8("x")));
        send(comQuery("BEGIN"));
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        assertThat(tracker.isSafeToMigrate()).isFalse();

        send(comResetConnection());
        serve(ok(AC));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.preparedStatements()).isEmpty();
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.hasPendingLongData()).isFalse();
        assertThat(tracker.inTransaction()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void changeUserWithAuthSwitchEndsAtOkAndDropsStatements() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comChangeUser("bob", new byte[0], "shop", 45, "auth_unknown_plugin", null));
        assertThat(tracker.isIdle()).isFalse();
        assertThat(tracker.isSafeToMigrate()).isFalse();
        serve(authSwitch("mysql_native_password", concat(utf8("0123456789abcdefghij"), new byte[] {0})));
        assertThat(tracker.expectsClientData()).isTrue();
        clientData(2, hex("0102030405060708090a0b0c0d0e0f1011121314"));
        assertThat(tracker.isIdle()).isFalse();
        serveFrom(3, List.of(ok(AC)));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.expectsClientData()).isFalse();
        assertThat(tracker.preparedStatements()).isEmpty();
        assertThat(tracker.isSafeToMigrate()).isTrue();
    }

    @Test
    void changeUserWithAuthMoreDataRoundTrips() {
        send(comChangeUser("bob", new byte[0], "", 45, "auth_unknown_plugin", null));
        serve(authSwitch("client_ed25519", filled(32, 'n')));
        clientData(2, filled(64, 's'));
        serveFrom(3, List.of(hex("01 03")));
        assertThat(tracker.isIdle()).isFalse();
        serveFrom(4, List.of(ok(AC)));
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void changeUserAnsweredByErr() {
        send(comChangeUser("bob", new byte[0], "", 45, "auth_unknown_plugin", null));
        serve(authSwitch("mysql_native_password", concat(utf8("0123456789abcdefghij"), new byte[] {0})));
        clientData(2, filled(20, 1));
        serveFrom(3, List.of(err(1045, "28000", "Access denied for user 'bob'@'localhost' (using password: YES)")));
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.expectsClientData()).isFalse();
    }

    @Test
    void quitExpectsNoResponse() {
        send(comQuit());
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void pipelinedQueriesAreAnsweredInOrder() {
        send(comQuery("SELECT 1"));
        send(comQuery("BEGIN"));
        send(comPing());
        serve(resultSet(AC, "1", "1"));
        assertThat(tracker.isIdle()).isFalse();
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        assertThat(tracker.isIdle()).isFalse();
        assertThat(tracker.inTransaction()).isTrue();
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        assertThat(tracker.isIdle()).isTrue();
    }

    // ---- migration safety ------------------------------------------------------------------------------

    @Test
    void notSafeReasonNamesEachUnsafeCondition() {
        assertThat(tracker.notSafeReason()).isNull();
        assertThat(tracker.isSafeToMigrate()).isTrue();

        send(comQuery("SELECT SLEEP(10)"));
        assertThat(tracker.notSafeReason()).contains("in progress");
        serve(resultSet(AC, "SLEEP(10)", "0"));
        assertThat(tracker.notSafeReason()).isNull();

        send(comQuery("BEGIN"));
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        assertThat(tracker.notSafeReason()).contains("transaction");
        send(comQuery("COMMIT"));
        serve(ok(AC));
        assertThat(tracker.notSafeReason()).isNull();

        prepare(1, "SELECT a FROM t WHERE b = ?", 1, 1);
        assertThat(tracker.notSafeReason()).as("a prepared statement alone can be re-prepared").isNull();
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY, 1));
        serve(cursorOpened(1));
        assertThat(tracker.notSafeReason()).contains("cursor");
        send(comStmtReset(1));
        serve(ok(AC));
        assertThat(tracker.notSafeReason()).isNull();

        send(comStmtSendLongData(1, 0, utf8("x")));
        assertThat(tracker.notSafeReason()).contains("long data");
        send(comStmtReset(1));
        serve(ok(AC));
        assertThat(tracker.notSafeReason()).isNull();

        send(comQuery("LOAD DATA LOCAL INFILE 'x' INTO TABLE t"));
        serve(localInfileRequest("x"));
        assertThat(tracker.notSafeReason()).isNotNull();
        clientData(2, new byte[0]);
        serveFrom(3, List.of(ok(AC)));
        assertThat(tracker.notSafeReason()).isNull();
    }

    // ---- commands of the proxy's own and what callers read -----------------------------------------

    @Test
    void internalCommandResponseGoesToItsListenerAndEndsOnce() {
        List<Integer> sequenceIds = new ArrayList<>();
        int[] ends = {0};
        CommandTracker.ResponseListener listener = new CommandTracker.ResponseListener() {
            @Override
            public void onResponsePacket(ByteBuf buf, int start) {
                assertThat(ends[0]).as("no packet after the end").isZero();
                sequenceIds.add((int) buf.getUnsignedByte(start + 3));
            }

            @Override
            public void onResponseEnd() {
                ends[0]++;
            }
        };
        ByteBuf query = Unpooled.wrappedBuffer(packet(0, comQuery("SELECT @a")));
        tracker.onInternalCommand(Command.COM_QUERY, query, listener);
        send(comPing()); // a client command queued behind the proxy's own
        assertThat(tracker.headIsInternal()).isTrue();
        assertThat(tracker.headCommand()).isEqualTo(Command.COM_QUERY);

        List<byte[]> rs = resultSet(AC, "@a", "1");
        assertThat(serve(rs)).as("not forwarded").containsOnly(true).hasSize(rs.size());
        assertThat(ends[0]).isEqualTo(1);
        assertThat(sequenceIds).hasSize(rs.size()).startsWith(1, 2);

        assertThat(tracker.headIsInternal()).isFalse();
        assertThat(tracker.headCommand()).isEqualTo(Command.COM_PING);
        assertThat(serve(ok(AC))).containsExactly(false);
        assertThat(ends[0]).isEqualTo(1);
        assertThat(tracker.isIdle()).isTrue();
    }

    @Test
    void internalPrepareIsRecordedLikeAClientOne() {
        CommandTracker.ResponseListener listener = new CommandTracker.ResponseListener() {
            @Override
            public void onResponsePacket(ByteBuf buf, int start) { }

            @Override
            public void onResponseEnd() { }
        };
        tracker.onInternalCommand(Command.COM_STMT_PREPARE, Unpooled.wrappedBuffer(packet(0, comStmtPrepare("SELECT ?"))), listener);
        assertThat(tracker.expectsPrepareOk()).isTrue();
        assertThat(serve(prepareResponse(9, 1, 1))).containsOnly(true);
        assertThat(tracker.preparedStatements()).containsKey(9L);
    }

    @Test
    void commandWithoutResponseCannotBeInternal() {
        assertThatThrownBy(() -> tracker.onInternalCommand(Command.COM_STMT_CLOSE,
                Unpooled.wrappedBuffer(packet(0, comStmtClose(1))), null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void sessionStateListenerSeesOkPacketsWithSessionStateChanged() {
        List<int[]> calls = new ArrayList<>();
        tracker.setSessionStateListener((buf, p, len) -> calls.add(new int[] {buf.getUnsignedByte(p), len}));
        byte[] schemaChanged = okWithHeader(0x00, 0, 0, AC | SERVER_SESSION_STATE_CHANGED, 0,
                "\u0000\u0007\u0001\u0005\u0004shop");
        send(comInitDb("shop"));
        serve(schemaChanged);
        assertThat(calls).hasSize(1);
        assertThat(calls.get(0)).containsExactly(0x00, schemaChanged.length);

        send(comPing());
        serve(ok(AC));
        assertThat(calls).as("no state change, no call").hasSize(1);

        send(comQuery("SELECT 1"));
        serve(resultSet(AC | SERVER_SESSION_STATE_CHANGED, "1", "1"));
        if (deprecateEof) {
            assertThat(calls).hasSize(2);
            assertThat(calls.get(1)[0]).isEqualTo(0xfe);
        } else {
            assertThat(calls).as("an EOF carries no session state").hasSize(1);
        }
    }

    @Test
    void lastPacketWasOkTellsOkFromOtherPackets() {
        send(comQuery("SELECT 1"));
        serve(columnCount(1));
        assertThat(tracker.lastPacketWasOk()).isFalse();
        serveFrom(2, defs(AC, "1"));
        assertThat(tracker.lastPacketWasOk()).isFalse();
        serveFrom(3, List.of(textRow("1")));
        assertThat(tracker.lastPacketWasOk()).isFalse();
        serveFrom(4, List.of(end(AC)));
        assertThat(tracker.lastPacketWasOk()).isEqualTo(deprecateEof);
        send(comPing());
        serve(ok(AC));
        assertThat(tracker.lastPacketWasOk()).isTrue();
        send(comPing());
        serve(err(1927, "70100", "Connection was killed"));
        assertThat(tracker.lastPacketWasOk()).isFalse();
    }

    @Test
    void prepareInFlightAndLastPreparedId() {
        assertThat(tracker.lastPreparedId()).isEqualTo(-1);
        send(comStmtPrepare("SELECT 1"));
        assertThat(tracker.prepareInFlight()).isTrue();
        assertThat(tracker.expectsPrepareOk()).isTrue();
        serve(prepareResponse(3, 1, 0));
        assertThat(tracker.prepareInFlight()).isFalse();
        assertThat(tracker.lastPreparedId()).isEqualTo(3);
    }

    @Test
    void parameterTypesAreKeptFromTheExecuteThatBindsThem() {
        prepare(1, "INSERT INTO t VALUES (?, ?)", 0, 2);
        send(comStmtExecute(1, CURSOR_TYPE_NO_CURSOR, 7, 8));
        serve(ok(1, 0, AC, 0, null));
        assertThat(tracker.parameterTypes(1)).isEqualTo(hex("0800 0800"));
        send(comStmtClose(1));
        assertThat(tracker.parameterTypes(1)).isNull();
    }

    @Test
    void abandoningInFlightCommandsForgetsWhatDiedWithTheConnection() {
        prepare(1, "SELECT a FROM t", 1, 0);
        send(comStmtExecute(1, CURSOR_TYPE_READ_ONLY));
        serve(cursorOpened(1));
        send(comStmtSendLongData(1, 0, utf8("x")));
        send(comQuery("BEGIN"));
        serve(ok(AC | SERVER_STATUS_IN_TRANS));
        send(comQuery("SELECT SLEEP(100)"));

        tracker.abandonInFlight();
        assertThat(tracker.isIdle()).isTrue();
        assertThat(tracker.hasOpenCursor()).isFalse();
        assertThat(tracker.hasPendingLongData()).isFalse();
        assertThat(tracker.inTransaction()).isFalse();
        assertThat(tracker.preparedStatements()).containsOnlyKeys(1L);
    }

    // ---- malformed server input --------------------------------------------------------------------

    @Test
    void serverPacketWithNoCommandPendingIsMalformed() {
        assertThatThrownBy(() -> serve(ok(AC))).isInstanceOf(MalformedPacketException.class);
        send(comPing());
        serve(ok(AC));
        assertThatThrownBy(() -> serveFrom(2, List.of(ok(AC)))).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void truncatedOkIsMalformedNotIndexOutOfBounds() {
        for (String bad : new String[] {"00", "00 00", "00 00 00", "00 00 00 02", "00 fc 01", "00 fe 01 02 03",
                "00 00 fd 01 02", "00 ff 00 00 00"}) {
            CommandTracker fresh = new CommandTracker(deprecateEof);
            ByteBuf cmd = Unpooled.wrappedBuffer(packet(0, comQuery("DO 1")));
            fresh.onCommand(Command.COM_QUERY, cmd);
            ByteBuf buf = Unpooled.wrappedBuffer(packet(1, hex(bad)));
            assertThatThrownBy(() -> fresh.onServerPacket(buf, 0)).as(bad).isInstanceOf(MalformedPacketException.class);
        }
    }

    @Test
    void truncatedOkToASingleResponseCommandIsMalformed() {
        send(comPing());
        ByteBuf buf = Unpooled.wrappedBuffer(packet(1, hex("00 00 00 02")));
        assertThatThrownBy(() -> tracker.onServerPacket(buf, 0)).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void truncatedOkEndingARowStreamIsMalformed() {
        assumeTrue(deprecateEof);
        send(comQuery("SELECT a FROM t"));
        serve(list(columnCount(1), defs(AC, "a"), textRow("1")));
        ByteBuf buf = Unpooled.wrappedBuffer(packet(4, hex("fe 00")));
        assertThatThrownBy(() -> tracker.onServerPacket(buf, 0)).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void truncatedColumnCountIsMalformed() {
        send(comQuery("SELECT a FROM t"));
        ByteBuf buf = Unpooled.wrappedBuffer(packet(1, hex("fc 01")));
        assertThatThrownBy(() -> tracker.onServerPacket(buf, 0)).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void emptyPacketWhereAResultStartsIsMalformed() {
        send(comQuery("SELECT a FROM t"));
        ByteBuf buf = Unpooled.wrappedBuffer(packet(1, new byte[0]));
        assertThatThrownBy(() -> tracker.onServerPacket(buf, 0)).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void truncatedEofAfterColumnDefinitionsIsMalformed() {
        assumeFalse(deprecateEof);
        send(comQuery("SELECT a FROM t"));
        serve(columnCount(1), columnDef("a"));
        ByteBuf buf = Unpooled.wrappedBuffer(packet(3, hex("fe 00 00")));
        assertThatThrownBy(() -> tracker.onServerPacket(buf, 0)).isInstanceOf(MalformedPacketException.class);
        assertThat(tracker.inTransaction()).isFalse();
    }
}
