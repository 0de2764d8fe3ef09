package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;

import java.nio.charset.StandardCharsets;

/**
 * Readers and writers for the basic data types of the MySQL protocol, named after the
 * documentation's types (int&lt;n&gt;, int&lt;lenenc&gt;, string&lt;NUL&gt;, string&lt;lenenc&gt;, string&lt;EOF&gt;).
 * Readers throw {@link MalformedPacketException} instead of reading past the end.
 */
public final class Wire {
    private Wire() {}

    /** Bytes of a packet header: int&lt;3&gt; payload length and int&lt;1&gt; sequence id. */
    public static final int HEADER_SIZE = 4;
    /** Largest payload of one physical packet; a payload of exactly this size continues in the next packet. */
    public static final int MAX_PAYLOAD = 0xFFFFFF;

    public static int readInt1(ByteBuf b) {
        need(b, 1);
        return b.readUnsignedByte();
    }

    public static int readInt2(ByteBuf b) {
        need(b, 2);
        return b.readUnsignedShortLE();
    }

    public static int readInt3(ByteBuf b) {
        need(b, 3);
        return b.readUnsignedMediumLE();
    }

    public static long readInt4(ByteBuf b) {
        need(b, 4);
        return b.readUnsignedIntLE();
    }

    public static long readInt8(ByteBuf b) {
        need(b, 8);
        return b.readLongLE();
    }

    /** int&lt;lenenc&gt;; returns -1 for the NULL marker 0xFB. */
    public static long readIntLenenc(ByteBuf b) {
        int first = readInt1(b);
        if (first < 0xfb) {
            return first;
        }
        return switch (first) {
            case 0xfb -> -1;
            case 0xfc -> readInt2(b);
            case 0xfd -> readInt3(b);
            case 0xfe -> readInt8(b);
            default -> throw new MalformedPacketException("invalid length-encoded integer prefix 0xff");
        };
    }

    public static byte[] readBytes(ByteBuf b, int n) {
        if (n < 0) {
            throw new MalformedPacketException("negative length " + n);
        }
        need(b, n);
        byte[] out = new byte[n];
        b.readBytes(out);
        return out;
    }

    public static byte[] readBytesNul(ByteBuf b) {
        int end = b.indexOf(b.readerIndex(), b.writerIndex(), (byte) 0);
        if (end < 0) {
            throw new MalformedPacketException("string<NUL> without terminating NUL");
        }
        byte[] out = readBytes(b, end - b.readerIndex());
        b.skipBytes(1);
        return out;
    }

    public static String readStringNul(ByteBuf b) {
        return new String(readBytesNul(b), StandardCharsets.UTF_8);
    }

    public static byte[] readBytesLenenc(ByteBuf b) {
        if (b.isReadable() && b.getUnsignedByte(b.readerIndex()) == 0xfb) {
            b.skipBytes(1);
            return null;
        }
        long n = readIntLenenc(b);
        if (n < 0 || n > b.readableBytes()) {
            throw new MalformedPacketException("string<lenenc> of " + n + " bytes exceeds packet");
        }
        return readBytes(b, (int) n);
    }

    public static String readStringLenenc(ByteBuf b) {
        byte[] bytes = readBytesLenenc(b);
        return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }

    public static byte[] readBytesEof(ByteBuf b) {
        return readBytes(b, b.readableBytes());
    }

    public static String readStringEof(ByteBuf b) {
        return new String(readBytesEof(b), StandardCharsets.UTF_8);
    }

    public static void skip(ByteBuf b, int n) {
        need(b, n);
        b.skipBytes(n);
    }

    public static void writeInt1(ByteBuf b, int v) {
        b.writeByte(v);
    }

    public static void writeInt2(ByteBuf b, int v) {
        b.writeShortLE(v);
    }

    public static void writeInt3(ByteBuf b, int v) {
        b.writeMediumLE(v);
    }

    public static void writeInt4(ByteBuf b, long v) {
        b.writeIntLE((int) v);
    }

    public static void writeInt8(ByteBuf b, long v) {
        b.writeLongLE(v);
    }

    public static void writeIntLenenc(ByteBuf b, long v) {
        if (v < 0xfb) {
            b.writeByte((int) v);
        } else if (v < (1 << 16)) {
            b.writeByte(0xfc);
            b.writeShortLE((int) v);
        } else if (v < (1 << 24)) {
            b.writeByte(0xfd);
            b.writeMediumLE((int) v);
        } else {
            b.writeByte(0xfe);
            b.writeLongLE(v);
        }
    }

    public static void writeBytesLenenc(ByteBuf b, byte[] bytes) {
        writeIntLenenc(b, bytes.length);
        b.writeBytes(bytes);
    }

    public static void writeStringLenenc(ByteBuf b, String s) {
        writeBytesLenenc(b, s.getBytes(StandardCharsets.UTF_8));
    }

    public static void writeBytesNul(ByteBuf b, byte[] bytes) {
        b.writeBytes(bytes);
        b.writeByte(0);
    }

    public static void writeStringNul(ByteBuf b, String s) {
        writeBytesNul(b, s.getBytes(StandardCharsets.UTF_8));
    }

    /** Payload length from the header of the packet starting at {@code index}. */
    public static int payloadLength(ByteBuf packet, int index) {
        return packet.getUnsignedMediumLE(index);
    }

    public static int sequenceId(ByteBuf packet) {
        return packet.getUnsignedByte(packet.readerIndex() + 3);
    }

    public static void setSequenceId(ByteBuf packet, int seq) {
        packet.setByte(packet.readerIndex() + 3, seq);
    }

    /** First payload byte of a whole packet (header included), or -1 for an empty payload. */
    public static int firstPayloadByte(ByteBuf packet) {
        int r = packet.readerIndex();
        return packet.getUnsignedMediumLE(r) == 0 ? -1 : packet.getUnsignedByte(r + HEADER_SIZE);
    }

    private static void need(ByteBuf b, int n) {
        if (b.readableBytes() < n) {
            throw new MalformedPacketException("packet too short: need " + n + " more bytes, have " + b.readableBytes());
        }
    }
}
