package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;

/**
 * The bytes a MySQL/MariaDB server or client puts on the wire, built by hand from the protocol
 * documentation (deliberately without the product's {@link Wire} or {@link Packets}, so the tests
 * do not check the code against itself).
 *
 * <p>Payload builders return the payload only; {@link #packet} adds the 4-byte header and
 * {@link Stream} numbers a sequence of payloads as one exchange.
 */
public final class PacketBytes {
    private PacketBytes() {}

    public static final int MAX_FRAME = 0xFFFFFF;

    // column types (enum_field_types)
    public static final int MYSQL_TYPE_LONG = 0x03;
    public static final int MYSQL_TYPE_LONGLONG = 0x08;
    public static final int MYSQL_TYPE_VAR_STRING = 0xfd;
    public static final int MYSQL_TYPE_BLOB = 0xfc;

    public static final int CHARSET_BINARY = 63;
    public static final int CHARSET_UTF8MB4_GENERAL_CI = 45;

    /** A tiny little-endian byte writer named after the protocol's basic types. */
    public static final class Bytes {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        public Bytes int1(int v) {
            out.write(v & 0xff);
            return this;
        }

        public Bytes int2(int v) {
            return int1(v).int1(v >>> 8);
        }

        public Bytes int3(int v) {
            return int1(v).int1(v >>> 8).int1(v >>> 16);
        }

        public Bytes int4(long v) {
            return int1((int) v).int1((int) (v >>> 8)).int1((int) (v >>> 16)).int1((int) (v >>> 24));
        }

        public Bytes int8(long v) {
            return int4(v).int4(v >>> 32);
        }

        public Bytes lenenc(long v) {
            if (v >= 0 && v < 251) {
                return int1((int) v);
            } else if (v >= 0 && v <= 0xFFFF) {
                return int1(0xfc).int2((int) v);
            } else if (v >= 0 && v <= 0xFFFFFF) {
                return int1(0xfd).int3((int) v);
            }
            return int1(0xfe).int8(v);
        }

        public Bytes bytes(byte[] b) {
            out.writeBytes(b);
            return this;
        }

        public Bytes zeros(int n) {
            return bytes(new byte[n]);
        }

        public Bytes str(String s) {
            return bytes(utf8(s));
        }

        public Bytes strNul(String s) {
            return str(s).int1(0);
        }

        public Bytes bytesLenenc(byte[] b) {
            return lenenc(b.length).bytes(b);
        }

        public Bytes strLenenc(String s) {
            return bytesLenenc(utf8(s));
        }

        public byte[] build() {
            return out.toByteArray();
        }
    }

    public static Bytes bytes() {
        return new Bytes();
    }

    public static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    public static byte[] hex(String hex) {
        return HexFormat.of().parseHex(hex.replaceAll("\\s+", ""));
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    public static ByteBuf buf(byte[]... parts) {
        return Unpooled.wrappedBuffer(concat(parts));
    }

    // ---- framing -------------------------------------------------------------------------------

    /** One physical packet: int&lt;3&gt; payload length, int&lt;1&gt; sequence id, payload. */
    public static byte[] packet(int sequenceId, byte[] payload) {
        if (payload.length > MAX_FRAME) {
            throw new IllegalArgumentException("use logicalPacket for payloads of 16 MiB or more");
        }
        return bytes().int3(payload.length).int1(sequenceId).bytes(payload).build();
    }

    /**
     * A logical packet of any size, split into 0xFFFFFF-byte frames with consecutive sequence ids;
     * a payload that is a multiple of 0xFFFFFF ends with an empty frame.
     */
    public static byte[] logicalPacket(int firstSequenceId, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int seq = firstSequenceId;
        int pos = 0;
        while (true) {
            int n = Math.min(MAX_FRAME, payload.length - pos);
            out.writeBytes(bytes().int3(n).int1(seq++).build());
            out.write(payload, pos, n);
            pos += n;
            if (n < MAX_FRAME) {
                break;
            }
        }
        return out.toByteArray();
    }

    /** Numbers packets of one exchange with consecutive sequence ids. */
    public static final class Stream {
        private final List<byte[]> packets = new ArrayList<>();
        private int seq;

        public Stream(int firstSequenceId) {
            this.seq = firstSequenceId;
        }

        public Stream add(byte[] payload) {
            byte[] p = logicalPacket(seq, payload);
            seq += Math.max(1, (payload.length / MAX_FRAME) + 1);
            packets.add(p);
            return this;
        }

        public Stream addAll(List<byte[]> payloads) {
            payloads.forEach(this::add);
            return this;
        }

        /** Whole packets, header included, one array per logical packet. */
        public List<byte[]> packets() {
            return packets;
        }

        public byte[] bytes() {
            return concat(packets.toArray(new byte[0][]));
        }

        public int nextSequenceId() {
            return seq;
        }
    }

    // ---- server payloads -----------------------------------------------------------------------

    /** OK_Packet: header 0x00, affected rows, last insert id, status flags, warnings, optional info. */
    public static byte[] ok(long affectedRows, long insertId, int status, int warnings, String info) {
        return okWithHeader(0x00, affectedRows, insertId, status, warnings, info);
    }

    public static byte[] ok(int status) {
        return ok(0, 0, status, 0, null);
    }

    /** The OK packet with header 0xFE that ends a result set when CLIENT_DEPRECATE_EOF is on. */
    public static byte[] okEof(int status) {
        return okWithHeader(0xfe, 0, 0, status, 0, null);
    }

    public static byte[] okWithHeader(int header, long affectedRows, long insertId, int status, int warnings, String info) {
        Bytes b = bytes().int1(header).lenenc(affectedRows).lenenc(insertId).int2(status).int2(warnings);
        if (info != null) {
            b.str(info);
        }
        return b.build();
    }

    /** EOF_Packet (PROTOCOL_41): 0xFE, warnings int2, status int2. */
    public static byte[] eof(int warnings, int status) {
        return bytes().int1(0xfe).int2(warnings).int2(status).build();
    }

    public static byte[] eof(int status) {
        return eof(0, status);
    }

    /** What ends rows (or column definitions of a cursor): EOF, or OK with 0xFE under deprecate-EOF. */
    public static byte[] resultSetEnd(boolean deprecateEof, int status) {
        return deprecateEof ? okEof(status) : eof(status);
    }

    /** ERR_Packet (PROTOCOL_41): 0xFF, code int2, '#', SQL state, message. */
    public static byte[] err(int code, String sqlState, String message) {
        return bytes().int1(0xff).int2(code).str("#").str(sqlState).str(message).build();
    }

    public static byte[] columnCount(long n) {
        return bytes().lenenc(n).build();
    }

    /** ColumnDefinition41 as MariaDB/MySQL send it for a SELECT of a table column. */
    public static byte[] columnDef(String schema, String table, String name, int type, int charset, long length) {
        return bytes()
                .strLenenc("def").strLenenc(schema).strLenenc(table).strLenenc(table)
                .strLenenc(name).strLenenc(name)
                .lenenc(0x0c).int2(charset).int4(length).int1(type).int2(0).int1(0).int2(0)
                .build();
    }

    public static byte[] columnDef(String name) {
        return columnDef("test", "t", name, MYSQL_TYPE_VAR_STRING, CHARSET_UTF8MB4_GENERAL_CI, 1020);
    }

    /** ProtocolText::ResultsetRow: each value a string&lt;lenenc&gt;, null as 0xFB. */
    public static byte[] textRow(String... values) {
        Bytes b = bytes();
        for (String v : values) {
            if (v == null) {
                b.int1(0xfb);
            } else {
                b.strLenenc(v);
            }
        }
        return b.build();
    }

    /** ProtocolBinary::ResultsetRow of LONG columns: 0x00, NULL bitmap (offset 2), non-null values. */
    public static byte[] binaryIntRow(Integer... values) {
        byte[] bitmap = new byte[(values.length + 7 + 2) / 8];
        Bytes vals = bytes();
        for (int i = 0; i < values.length; i++) {
            if (values[i] == null) {
                int bit = i + 2;
                bitmap[bit / 8] |= (byte) (1 << (bit % 8));
            } else {
                vals.int4(values[i]);
            }
        }
        return bytes().int1(0x00).bytes(bitmap).bytes(vals.build()).build();
    }

    /** COM_STMT_PREPARE_OK: 0x00, statement id, columns, params, filler, warnings. */
    public static byte[] prepareOk(long statementId, int columns, int params, int warnings) {
        return bytes().int1(0x00).int4(statementId).int2(columns).int2(params).int1(0).int2(warnings).build();
    }

    /** LOCAL INFILE request: 0xFB and the file name. */
    public static byte[] localInfileRequest(String fileName) {
        return bytes().int1(0xfb).str(fileName).build();
    }

    /** AuthSwitchRequest: 0xFE, plugin name NUL, plugin data (native: 20-byte salt plus NUL). */
    public static byte[] authSwitch(String plugin, byte[] data) {
        return bytes().int1(0xfe).strNul(plugin).bytes(data).build();
    }

    /** A whole result set (column count, definitions, [EOF], rows, end) with the given end status. */
    public static List<byte[]> textResultSet(boolean deprecateEof, int endStatus, String[] columns, String[]... rows) {
        List<byte[]> out = new ArrayList<>();
        out.add(columnCount(columns.length));
        for (String c : columns) {
            out.add(columnDef(c));
        }
        if (!deprecateEof) {
            out.add(eof(0, endStatus));
        }
        for (String[] r : rows) {
            out.add(textRow(r));
        }
        out.add(resultSetEnd(deprecateEof, endStatus));
        return out;
    }

    // ---- client payloads -----------------------------------------------------------------------

    public static byte[] comQuery(String sql) {
        return bytes().int1(0x03).str(sql).build();
    }

    public static byte[] comQuit() {
        return new byte[] {0x01};
    }

    public static byte[] comInitDb(String db) {
        return bytes().int1(0x02).str(db).build();
    }

    public static byte[] comFieldList(String table, String wildcard) {
        return bytes().int1(0x04).strNul(table).str(wildcard).build();
    }

    public static byte[] comStatistics() {
        return new byte[] {0x09};
    }

    public static byte[] comPing() {
        return new byte[] {0x0e};
    }

    public static byte[] comResetConnection() {
        return new byte[] {0x1f};
    }

    /** COM_SET_OPTION: 0 = MYSQL_OPTION_MULTI_STATEMENTS_ON, 1 = OFF. */
    public static byte[] comSetOption(int option) {
        return bytes().int1(0x1b).int2(option).build();
    }

    public static byte[] comStmtPrepare(String sql) {
        return bytes().int1(0x16).str(sql).build();
    }

    public static final int CURSOR_TYPE_NO_CURSOR = 0x00;
    public static final int CURSOR_TYPE_READ_ONLY = 0x01;

    /**
     * COM_STMT_EXECUTE: 0x17, statement id, flags, iteration count 1, and for statements with
     * parameters the NULL bitmap, new-params-bound flag 1 and the types (all LONGLONG here) and values.
     */
    public static byte[] comStmtExecute(long statementId, int flags, long... params) {
        Bytes b = bytes().int1(0x17).int4(statementId).int1(flags).int4(1);
        if (params.length > 0) {
            b.zeros((params.length + 7) / 8).int1(1);
            for (int i = 0; i < params.length; i++) {
                b.int1(MYSQL_TYPE_LONGLONG).int1(0);
            }
            for (long p : params) {
                b.int8(p);
            }
        }
        return b.build();
    }

    public static byte[] comStmtFetch(long statementId, long rows) {
        return bytes().int1(0x1c).int4(statementId).int4(rows).build();
    }

    public static byte[] comStmtSendLongData(long statementId, int paramId, byte[] data) {
        return bytes().int1(0x18).int4(statementId).int2(paramId).bytes(data).build();
    }

    public static byte[] comStmtClose(long statementId) {
        return bytes().int1(0x19).int4(statementId).build();
    }

    public static byte[] comStmtReset(long statementId) {
        return bytes().int1(0x1a).int4(statementId).build();
    }

    /**
     * COM_CHANGE_USER as a PROTOCOL_41 client with CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH and,
     * when {@code connectAttrs} is non-null, CLIENT_CONNECT_ATTRS sends it.
     */
    public static byte[] comChangeUser(String user, byte[] auth, String db, int charset, String plugin, byte[] connectAttrs) {
        Bytes b = bytes().int1(0x11).strNul(user).int1(auth.length).bytes(auth).strNul(db).int2(charset).strNul(plugin);
        if (connectAttrs != null) {
            b.bytesLenenc(connectAttrs);
        }
        return b.build();
    }

    /** The key/value block of CLIENT_CONNECT_ATTRS (without its total length prefix). */
    public static byte[] connectAttrs(String... keyValues) {
        Bytes b = bytes();
        for (String s : keyValues) {
            b.strLenenc(s);
        }
        return b.build();
    }

    /** A payload of {@code n} bytes of {@code fill}. */
    public static byte[] filled(int n, int fill) {
        byte[] b = new byte[n];
        Arrays.fill(b, (byte) fill);
        return b;
    }
}
