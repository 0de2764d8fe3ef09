package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/** Building and classifying whole packets (header included). */
public final class Packets {
    private Packets() {}

    public static final int OK_HEADER = 0x00;
    public static final int LOCAL_INFILE_HEADER = 0xfb;
    public static final int EOF_HEADER = 0xfe;
    public static final int AUTH_SWITCH_HEADER = 0xfe;
    public static final int AUTH_MORE_DATA_HEADER = 0x01;
    public static final int ERR_HEADER = 0xff;

    /** Allocates a packet with the given sequence id and the payload the writer appends. */
    public static ByteBuf build(ByteBufAllocator alloc, int sequenceId, Consumer<ByteBuf> payloadWriter) {
        ByteBuf buf = alloc.buffer();
        buf.writeMediumLE(0);
        buf.writeByte(sequenceId);
        try {
            payloadWriter.accept(buf);
        } catch (RuntimeException e) {
            buf.release();
            throw e;
        }
        int payload = buf.readableBytes() - Wire.HEADER_SIZE;
        if (payload >= Wire.MAX_PAYLOAD) {
            buf.release();
            throw new IllegalArgumentException("payload of " + payload + " bytes needs splitting");
        }
        buf.setMediumLE(0, payload);
        return buf;
    }

    /** An ERR packet with SQL state and message, as sent to PROTOCOL_41 clients. */
    public static ByteBuf err(ByteBufAllocator alloc, int sequenceId, int errorCode, String sqlState, String message) {
        return build(alloc, sequenceId, b -> {
            b.writeByte(ERR_HEADER);
            b.writeShortLE(errorCode);
            b.writeByte('#');
            b.writeCharSequence(sqlState, StandardCharsets.US_ASCII);
            b.writeCharSequence(message, StandardCharsets.UTF_8);
        });
    }

    public static ByteBuf err(ByteBufAllocator alloc, int sequenceId, MySqlError error) {
        return err(alloc, sequenceId, error.code(), error.sqlState(), error.message());
    }

    /** A plain OK packet (no session-state info). */
    public static ByteBuf ok(ByteBufAllocator alloc, int sequenceId, int status) {
        return build(alloc, sequenceId, b -> {
            b.writeByte(OK_HEADER);
            b.writeByte(0); // affected rows
            b.writeByte(0); // last insert id
            b.writeShortLE(status);
            b.writeShortLE(0); // warnings
        });
    }

    /** A packet carrying only the payload bytes given. */
    public static ByteBuf of(ByteBufAllocator alloc, int sequenceId, byte[] payload) {
        return build(alloc, sequenceId, b -> b.writeBytes(payload));
    }

    public static int payloadLength(ByteBuf packet) {
        return packet.getUnsignedMediumLE(packet.readerIndex());
    }

    /** The payload of a whole packet as a slice (no copy, shares the reference count). */
    public static ByteBuf payload(ByteBuf packet) {
        return packet.slice(packet.readerIndex() + Wire.HEADER_SIZE, payloadLength(packet));
    }

    public static boolean isErr(ByteBuf packet) {
        return Wire.firstPayloadByte(packet) == ERR_HEADER;
    }

    public static boolean isOk(ByteBuf packet) {
        return Wire.firstPayloadByte(packet) == OK_HEADER;
    }

    /** A classic EOF packet: header 0xFE and a payload shorter than 9 bytes. */
    public static boolean isEof(ByteBuf packet) {
        return Wire.firstPayloadByte(packet) == EOF_HEADER && payloadLength(packet) < 9;
    }

    /**
     * The end of a result set: EOF, or with CLIENT_DEPRECATE_EOF an OK packet with header 0xFE
     * (rows never start with 0xFE unless they are at least 2^24 bytes long).
     */
    public static boolean isResultSetEnd(ByteBuf packet, boolean deprecateEof) {
        if (Wire.firstPayloadByte(packet) != EOF_HEADER) {
            return false;
        }
        int len = payloadLength(packet);
        return deprecateEof ? len < Wire.MAX_PAYLOAD : len < 9;
    }

    /** Error code of an ERR packet. */
    public static int errorCode(ByteBuf packet) {
        return packet.getUnsignedShortLE(packet.readerIndex() + Wire.HEADER_SIZE + 1);
    }

    /** Human-readable message of an ERR packet (for logs). */
    public static String errorMessage(ByteBuf packet) {
        ByteBuf p = payload(packet);
        int skip = p.readableBytes() >= 9 && p.getByte(3) == '#' ? 9 : 3;
        if (p.readableBytes() < skip) {
            return "";
        }
        return p.toString(skip, p.readableBytes() - skip, StandardCharsets.UTF_8);
    }
}
