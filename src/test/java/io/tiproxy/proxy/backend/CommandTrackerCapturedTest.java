package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.tiproxy.protocol.Command;
import org.junit.jupiter.api.Test;

import java.util.List;

import static io.tiproxy.protocol.PacketBytes.*;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Responses of a real MariaDB 10.11.19 (Debian 12 package), captured packet by packet with a raw
 * socket client (login as a mysql_native_password user with and without CLIENT_DEPRECATE_EOF; the
 * commands are the ones built here with {@code PacketBytes}). Each response is replayed into the
 * tracker, which must stay busy until exactly its last packet.
 */
class CommandTrackerCapturedTest {

    // column definitions of test.t (a INT, b VARCHAR(10)) as MariaDB sends them
    private static final String DEF_A = "1e00000_03646566047465737401740174016101610c3f000b000000030000000000";
    private static final String DEF_B = "1e00000_03646566047465737401740174016201620c2d0028000000fd0000000000";

    /** A packet given as hex, with '_' standing for the sequence id digit (so definitions can be reused). */
    private static byte[] pkt(String hex, int seq) {
        return hex(hex.replace("_", Integer.toHexString(seq)));
    }

    private static void send(CommandTracker t, byte[] payload) {
        ByteBuf b = Unpooled.wrappedBuffer(packet(0, payload));
        t.onCommand(Command.of(payload[0] & 0xff), b);
        b.release();
    }

    private static void clientData(CommandTracker t, int seq, byte[] payload) {
        ByteBuf b = Unpooled.wrappedBuffer(packet(seq, payload));
        t.onClientData(b);
        b.release();
    }

    /** Feeds a response; the tracker must be busy before each packet and idle right after the last. */
    private static void replayResponse(CommandTracker t, List<byte[]> packets) {
        for (int i = 0; i < packets.size(); i++) {
            assertThat(t.isIdle()).as("before packet %d", i).isFalse();
            ByteBuf b = Unpooled.wrappedBuffer(packets.get(i));
            t.onServerPacket(b, 0);
            b.release();
        }
        assertThat(t.isIdle()).as("after the last packet").isTrue();
    }

    private static void exchange(CommandTracker t, byte[] command, List<byte[]> response) {
        send(t, command);
        replayResponse(t, response);
    }

    // ---- text protocol ---------------------------------------------------------------------------

    @Test
    void textResultSet() {
        byte[] q = comQuery("SELECT a, b FROM test.t");
        exchange(new CommandTracker(false), q, List.of(hex("0100000102"), pkt(DEF_A, 2), pkt(DEF_B, 3),
                hex("05000004fe00002200"), hex("0400000501310178"), hex("0400000601320179"),
                hex("040000070133017a"), hex("05000008fe00002200")));
        exchange(new CommandTracker(true), q, List.of(hex("0100000102"), pkt(DEF_A, 2), pkt(DEF_B, 3),
                hex("0400000401310178"), hex("0400000501320179"), hex("040000060133017a"),
                hex("07000007fe000022000000")));
    }

    @Test
    void multiStatements() {
        byte[] q = comQuery("SELECT 1; SELECT 2; DO 3");
        exchange(new CommandTracker(false), q, List.of(hex("0100000101"),
                hex("17000002036465660000000131000c3f0001000000038100000000"), hex("05000003fe00000a00"),
                hex("020000040131"), hex("05000005fe00000a00"), hex("0100000601"),
                hex("17000007036465660000000132000c3f0001000000038100000000"), hex("05000008fe00000a00"),
                hex("020000090132"), hex("0500000afe00000a00"), hex("0700000b00000002000000")));
        exchange(new CommandTracker(true), q, List.of(hex("0100000101"),
                hex("17000002036465660000000131000c3f0001000000038100000000"), hex("020000030131"),
                hex("07000004fe00000a000000"), hex("0100000501"),
                hex("17000006036465660000000132000c3f0001000000038100000000"), hex("020000070132"),
                hex("07000008fe00000a000000"), hex("0700000900000002000000")));
    }

    @Test
    void multiStatementsEndedByErr() {
        byte[] q = comQuery("SELECT 1; SELECT * FROM nope; SELECT 3");
        String err = "28000006ff7a042334325330325461626c652027746573742e6e6f70652720646f65736e2774206578697374";
        exchange(new CommandTracker(false), q, List.of(hex("0100000101"),
                hex("17000002036465660000000131000c3f0001000000038100000000"), hex("05000003fe00000a00"),
                hex("020000040131"), hex("05000005fe00000a00"), hex(err)));
        exchange(new CommandTracker(true), q, List.of(hex("0100000101"),
                hex("17000002036465660000000131000c3f0001000000038100000000"), hex("020000030131"),
                hex("07000004fe00000a000000"), hex(err.replaceFirst("^28000006", "28000005"))));
    }

    @Test
    void transaction() {
        for (boolean deprecateEof : new boolean[] {false, true}) {
            CommandTracker t = new CommandTracker(deprecateEof);
            exchange(t, comQuery("BEGIN"), List.of(hex("0700000100000003000000")));
            assertThat(t.inTransaction()).isTrue();
            exchange(t, comQuery("SELECT a FROM test.t LIMIT 1"), deprecateEof
                    ? List.of(hex("0100000101"), pkt(DEF_A, 2), hex("020000030131"), hex("07000004fe000023000000"))
                    : List.of(hex("0100000101"), pkt(DEF_A, 2), hex("05000003fe00002300"), hex("020000040131"),
                            hex("05000005fe00002300")));
            assertThat(t.inTransaction()).isTrue();
            assertThat(t.isSafeToMigrate()).isFalse();
            exchange(t, comQuery("ROLLBACK"), List.of(hex("0700000100000002000000")));
            assertThat(t.inTransaction()).isFalse();
            assertThat(t.isSafeToMigrate()).isTrue();
        }
    }

    @Test
    void loadDataLocal() {
        for (boolean deprecateEof : new boolean[] {false, true}) {
            CommandTracker t = new CommandTracker(deprecateEof);
            send(t, comQuery("LOAD DATA LOCAL INFILE '/tmp/rows.csv' INTO TABLE test.t FIELDS TERMINATED BY ','"));
            ByteBuf request = Unpooled.wrappedBuffer(hex("0e000001fb2f746d702f726f77732e637376"));
            t.onServerPacket(request, 0);
            assertThat(t.expectsClientData()).isTrue();
            clientData(t, 2, utf8("7,p\n8,q\n"));
            clientData(t, 3, new byte[0]);
            assertThat(t.inLoadData()).isTrue();
            replayResponse(t, List.of(hex("37000004000200020000002f5265636f7264733a2032202044656c657465643a2030"
                    + "2020536b69707065643a203020205761726e696e67733a2030")));
            assertThat(t.inLoadData()).isFalse();
        }
    }

    // ---- prepared statements and cursors ----------------------------------------------------------

    /** The captured answer to COM_STMT_PREPARE "SELECT a, b FROM test.t WHERE a > ?" (statement 1 or 2). */
    private static List<byte[]> preparedTwoColumnsOneParam(boolean deprecateEof) {
        return deprecateEof
                ? List.of(hex("0c000001000200000002000100000000"),
                        hex("1700000203646566000000013f000c3f0000000000068000000000"), pkt(DEF_A, 3), pkt(DEF_B, 4))
                : List.of(hex("0c000001000100000002000100000000"),
                        hex("1700000203646566000000013f000c3f0000000000068000000000"), hex("05000003fe00000200"),
                        pkt(DEF_A, 4), pkt(DEF_B, 5), hex("05000006fe00000200"));
    }

    private static final String FETCH3_ERR_1 = "2d000001ff8d052348593030305468652073746174656d656e742028312920686173206e6f206f70656e20637572736f72";

    @Test
    void cursorLifecycleWithoutDeprecateEof() {
        CommandTracker t = new CommandTracker(false);
        exchange(t, comStmtPrepare("SELECT a, b FROM test.t WHERE a > ?"), preparedTwoColumnsOneParam(false));
        assertThat(t.preparedStatements().get(1L).paramCount()).isEqualTo(1);
        assertThat(t.preparedStatements().get(1L).columnCount()).isEqualTo(2);

        exchange(t, comStmtExecute(1, CURSOR_TYPE_READ_ONLY, 0), List.of(hex("0100000102"), pkt(DEF_A, 2),
                pkt(DEF_B, 3), hex("05000004fe00006200")));
        assertThat(t.hasOpenCursor()).isTrue();

        exchange(t, comStmtFetch(1, 2), List.of(hex("080000010000010000000178"), hex("080000020000020000000179"),
                hex("05000003fe00004200")));
        assertThat(t.hasOpenCursor()).isTrue();
        // MariaDB's last fetch: LAST_ROW_SENT without CURSOR_EXISTS
        exchange(t, comStmtFetch(1, 2), List.of(hex("08000001000003000000017a"), hex("05000002fe00008200")));
        assertThat(t.hasOpenCursor()).isFalse();
        exchange(t, comStmtFetch(1, 2), List.of(hex(FETCH3_ERR_1)));

        exchange(t, comStmtExecute(1, CURSOR_TYPE_NO_CURSOR, 1), List.of(hex("0100000102"), pkt(DEF_A, 2),
                pkt(DEF_B, 3), hex("05000004fe00002200"), hex("080000050000020000000179"),
                hex("08000006000003000000017a"), hex("05000007fe00002200")));
        exchange(t, comStmtReset(1), List.of(hex("0700000100000002000000")));
        assertThat(t.isSafeToMigrate()).isTrue();
    }

    @Test
    void cursorLifecycleWithDeprecateEof() {
        CommandTracker t = new CommandTracker(true);
        exchange(t, comStmtPrepare("SELECT a, b FROM test.t WHERE a > ?"), preparedTwoColumnsOneParam(true));
        assertThat(t.preparedStatements()).containsOnlyKeys(2L);

        // the cursor is announced by an OK with header 0xFE right after the definitions
        exchange(t, comStmtExecute(2, CURSOR_TYPE_READ_ONLY, 0), List.of(hex("0100000102"), pkt(DEF_A, 2),
                pkt(DEF_B, 3), hex("07000004fe000062000000")));
        assertThat(t.hasOpenCursor()).isTrue();

        exchange(t, comStmtFetch(2, 2), List.of(hex("080000010000010000000178"), hex("080000020000020000000179"),
                hex("07000003fe000042000000")));
        assertThat(t.hasOpenCursor()).isTrue();
        exchange(t, comStmtFetch(2, 2), List.of(hex("08000001000003000000017a"), hex("07000002fe000082000000")));
        assertThat(t.hasOpenCursor()).isFalse();
        exchange(t, comStmtFetch(2, 2), List.of(hex(FETCH3_ERR_1.replace("2028312920", "2028322920"))));

        exchange(t, comStmtExecute(2, CURSOR_TYPE_NO_CURSOR, 1), List.of(hex("0100000102"), pkt(DEF_A, 2),
                pkt(DEF_B, 3), hex("080000040000020000000179"), hex("08000005000003000000017a"),
                hex("07000006fe000022000000")));
        exchange(t, comStmtReset(2), List.of(hex("0700000100000002000000")));
        assertThat(t.isSafeToMigrate()).isTrue();
    }

    private static final byte[] PIPELINED_PREPARE = comStmtPrepare("SELECT a FROM test.t WHERE a > ?");
    private static final byte[] PIPELINED_EXECUTE = comStmtExecute(0xFFFFFFFFL, CURSOR_TYPE_READ_ONLY, 0);

    private static List<byte[]> pipelinedPrepareResponse(boolean deprecateEof) {
        return deprecateEof
                ? List.of(hex("0c000001000100000001000100000000"),
                        hex("1700000203646566000000013f000c3f0000000000068000000000"), pkt(DEF_A, 3))
                : List.of(hex("0c000001000300000001000100000000"),
                        hex("1700000203646566000000013f000c3f0000000000068000000000"), hex("05000003fe00000200"),
                        pkt(DEF_A, 4), hex("05000005fe00000200"));
    }

    private static List<byte[]> pipelinedExecuteResponse(boolean deprecateEof) {
        return List.of(hex("0100000101"), pkt(DEF_A, 2), deprecateEof ? hex("07000003fe000062000000") : hex("05000003fe00006200"));
    }

    @Test
    void pipelinedPrepareAndExecuteOfTheLastStatementAreFramedInOrder() {
        for (boolean deprecateEof : new boolean[] {false, true}) {
            CommandTracker t = new CommandTracker(deprecateEof);
            send(t, PIPELINED_PREPARE);
            send(t, PIPELINED_EXECUTE);
            for (byte[] p : pipelinedPrepareResponse(deprecateEof)) {
                t.onServerPacket(Unpooled.wrappedBuffer(p), 0);
            }
            assertThat(t.isIdle()).isFalse();
            replayResponse(t, pipelinedExecuteResponse(deprecateEof));
            assertThat(t.hasOpenCursor()).isTrue();
        }
    }

    @Test
    void pipelinedExecuteCursorIsClosedWithItsStatement() {
        for (boolean deprecateEof : new boolean[] {false, true}) {
            CommandTracker t = new CommandTracker(deprecateEof);
            send(t, PIPELINED_PREPARE);
            send(t, PIPELINED_EXECUTE);
            for (byte[] p : pipelinedPrepareResponse(deprecateEof)) {
                t.onServerPacket(Unpooled.wrappedBuffer(p), 0);
            }
            replayResponse(t, pipelinedExecuteResponse(deprecateEof));
            long id = t.lastPreparedId();
            send(t, comStmtClose(id));
            assertThat(t.hasOpenCursor()).as("deprecateEof=%s", deprecateEof).isFalse();
        }
    }

    // ---- other commands -------------------------------------------------------------------------

    @Test
    void setOptionFieldListStatisticsPingAndResetConnection() {
        for (boolean deprecateEof : new boolean[] {false, true}) {
            CommandTracker t = new CommandTracker(deprecateEof);
            exchange(t, comSetOption(0), List.of(deprecateEof ? hex("07000001fe000002000000") : hex("05000001fe00000200")));
            // COM_FIELD_LIST definitions carry a trailing default value (here NULL, 0xFB)
            exchange(t, comFieldList("t", ""), List.of(
                    hex("1f00000103646566047465737401740174016101610c3f000b000000030000000000fb"),
                    hex("1f00000203646566047465737401740174016201620c2d0028000000fd0000000000fb"),
                    deprecateEof ? hex("07000003fe000002000000") : hex("05000003fe00000200")));
            exchange(t, comStatistics(), List.of(hex("71000001557074696d653a2032382020546872656164733a2031202051"
                    + "75657374696f6e733a2031392020536c6f7720717565726965733a203020204f70656e733a20323120204f70656e2074"
                    + "61626c65733a20313420205175657269657320706572207365636f6e64206176673a20302e363738")));
            exchange(t, comPing(), List.of(hex("0700000100000002000000")));
            exchange(t, comStmtPrepare("SELECT a, b FROM test.t WHERE a > ?"), preparedTwoColumnsOneParam(deprecateEof));
            assertThat(t.preparedStatements()).hasSize(1);
            exchange(t, comResetConnection(), List.of(hex("0700000100000002000000")));
            assertThat(t.preparedStatements()).isEmpty();
        }
    }

    @Test
    void changeUserWithAuthSwitch() {
        CommandTracker t = new CommandTracker(true);
        exchange(t, comStmtPrepare("SELECT a, b FROM test.t WHERE a > ?"), preparedTwoColumnsOneParam(true));
        assertThat(t.preparedStatements()).hasSize(1);
        send(t, comChangeUser("app", new byte[0], "test", 45, "auth_unknown_plugin", null));
        t.onServerPacket(Unpooled.wrappedBuffer(hex("2c000001fe6d7973716c5f6e61746976655f70617373776f7264006944566576"
                + "432d533e7a6c3046503f2a5447497800")), 0);
        assertThat(t.expectsClientData()).isTrue();
        clientData(t, 2, filled(20, 0x5a));
        replayResponse(t, List.of(hex("0700000300000002000000")));
        assertThat(t.preparedStatements()).isEmpty();
    }

    /**
     * MariaDB 10.11 keeps the connection after a failed COM_CHANGE_USER but has already reset the
     * session: captured, the next COM_STMT_EXECUTE of the earlier statement fails with "Unknown prepared
     * statement handler (1)" and the next OK no longer has SERVER_STATUS_IN_TRANS.
     */
    @Test
    void failedChangeUserStillResetsTheSession() {
        CommandTracker t = new CommandTracker(true);
        exchange(t, comStmtPrepare("SELECT 1"), List.of(hex("0c000001000100000001000000000000"),
                hex("17000002036465660000000131000c3f0001000000038100000000")));
        exchange(t, comQuery("BEGIN"), List.of(hex("0700000100000003000000")));
        send(t, comChangeUser("app", new byte[0], "test", 45, "auth_unknown_plugin", null));
        t.onServerPacket(Unpooled.wrappedBuffer(hex("2c000001fe6d7973716c5f6e61746976655f70617373776f726400692f4d78"
                + "33344954484d2b2b38766a335a4f5b5c00")), 0);
        clientData(t, 2, filled(20, 1));
        replayResponse(t, List.of(hex("47000003ff15042332383030304163636573732064656e69656420666f72207573657220"
                + "276170702740273132372e302e302e312720287573696e672070617373776f72643a2059455329")));
        assertThat(t.preparedStatements()).as("statement 1 is unknown to the server now").isEmpty();
        assertThat(t.inTransaction()).as("the transaction was rolled back").isFalse();
    }
}
