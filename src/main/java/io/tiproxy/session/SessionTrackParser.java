package io.tiproxy.session;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.ServerStatus;

import java.nio.charset.StandardCharsets;

/**
 * Reads the session-state information of an OK packet sent with CLIENT_SESSION_TRACK: after the
 * status and warnings come a length-encoded info string and, when SERVER_SESSION_STATE_CHANGED is set,
 * a length-encoded block of {type, length-encoded data} entries.
 */
public final class SessionTrackParser {
    private SessionTrackParser() {}

    public static final int SESSION_TRACK_SYSTEM_VARIABLES = 0;
    public static final int SESSION_TRACK_SCHEMA = 1;
    public static final int SESSION_TRACK_STATE_CHANGE = 2;
    public static final int SESSION_TRACK_GTIDS = 3;
    public static final int SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4;
    public static final int SESSION_TRACK_TRANSACTION_STATE = 5;

    /** What an OK packet reports; every method has an empty default. */
    public interface Listener {
        default void onSystemVariable(String name, String value) {}

        default void onSchema(String schema) {}

        default void onStateChanged() {}

        default void onTransactionCharacteristics(String characteristics) {}

        default void onTransactionState(String state) {}
    }

    /** Layout of an OK packet sent with CLIENT_SESSION_TRACK. */
    public record OkLayout(int statusIndex, int status, int infoStart, int infoLength, int stateStart, int stateEnd) {}

    /** @param p index of the OK header byte, {@code len} the payload length */
    public static OkLayout layout(ByteBuf buf, int p, int len) {
        int end = p + len;
        int pos = skipLenenc(buf, p + 1, end);
        pos = skipLenenc(buf, pos, end);
        if (pos + 4 > end) {
            throw new MalformedPacketException("OK packet without status and warnings");
        }
        int statusIndex = pos;
        int status = buf.getUnsignedShortLE(pos);
        pos += 4;
        if (pos >= end) {
            return new OkLayout(statusIndex, status, pos, 0, pos, pos);
        }
        long infoLen = readLenenc(buf, pos, end);
        int infoStart = pos + lenencSize(buf.getUnsignedByte(pos));
        int infoEnd = checkedEnd(infoStart, infoLen, end);
        if (!ServerStatus.has(status, ServerStatus.SERVER_SESSION_STATE_CHANGED) || infoEnd >= end) {
            return new OkLayout(statusIndex, status, infoStart, infoEnd - infoStart, infoEnd, infoEnd);
        }
        long blockLen = readLenenc(buf, infoEnd, end);
        int blockStart = infoEnd + lenencSize(buf.getUnsignedByte(infoEnd));
        int blockEnd = checkedEnd(blockStart, blockLen, end);
        return new OkLayout(statusIndex, status, infoStart, infoEnd - infoStart, blockStart, blockEnd);
    }

    /** Reports each session-state entry of the OK packet at {@code p}. */
    public static void parse(ByteBuf buf, int p, int len, Listener listener) {
        OkLayout ok = layout(buf, p, len);
        int pos = ok.stateStart();
        int end = ok.stateEnd();
        while (pos < end) {
            int type = buf.getUnsignedByte(pos++);
            long dataLen = readLenenc(buf, pos, end);
            int dataStart = pos + lenencSize(buf.getUnsignedByte(pos));
            int dataEnd = checkedEnd(dataStart, dataLen, end);
            switch (type) {
                case SESSION_TRACK_SYSTEM_VARIABLES -> {
                    int q = dataStart;
                    while (q < dataEnd) {
                        String name = readString(buf, q, dataEnd);
                        q = skipString(buf, q, dataEnd);
                        String value = readString(buf, q, dataEnd);
                        q = skipString(buf, q, dataEnd);
                        listener.onSystemVariable(name, value);
                    }
                }
                case SESSION_TRACK_SCHEMA -> listener.onSchema(readString(buf, dataStart, dataEnd));
                case SESSION_TRACK_STATE_CHANGE -> listener.onStateChanged();
                case SESSION_TRACK_TRANSACTION_CHARACTERISTICS ->
                        listener.onTransactionCharacteristics(readString(buf, dataStart, dataEnd));
                case SESSION_TRACK_TRANSACTION_STATE -> listener.onTransactionState(readString(buf, dataStart, dataEnd));
                default -> { } // GTIDs and future types carry nothing the proxy restores
            }
            pos = dataEnd;
        }
    }

    private static String readString(ByteBuf buf, int pos, int end) {
        long n = readLenenc(buf, pos, end);
        int start = pos + lenencSize(buf.getUnsignedByte(pos));
        int stop = checkedEnd(start, n, end);
        return buf.toString(start, stop - start, StandardCharsets.UTF_8);
    }

    private static int skipString(ByteBuf buf, int pos, int end) {
        long n = readLenenc(buf, pos, end);
        return checkedEnd(pos + lenencSize(buf.getUnsignedByte(pos)), n, end);
    }

    private static int checkedEnd(int start, long n, int end) {
        if (n < 0 || start + n > end) {
            throw new MalformedPacketException("session-state entry runs past the OK packet");
        }
        return (int) (start + n);
    }

    static int lenencSize(int first) {
        return first < 0xfb ? 1 : first == 0xfc ? 3 : first == 0xfd ? 4 : first == 0xfe ? 9 : 1;
    }

    static long readLenenc(ByteBuf buf, int pos, int end) {
        if (pos >= end) {
            throw new MalformedPacketException("truncated length-encoded integer");
        }
        int first = buf.getUnsignedByte(pos);
        int size = lenencSize(first);
        if (pos + size > end) {
            throw new MalformedPacketException("truncated length-encoded integer");
        }
        return switch (first) {
            case 0xfc -> buf.getUnsignedShortLE(pos + 1);
            case 0xfd -> buf.getUnsignedMediumLE(pos + 1);
            case 0xfe -> buf.getLongLE(pos + 1);
            case 0xfb, 0xff -> throw new MalformedPacketException("unexpected length prefix 0x" + Integer.toHexString(first));
            default -> first;
        };
    }

    static int skipLenenc(ByteBuf buf, int pos, int end) {
        readLenenc(buf, pos, end);
        return pos + lenencSize(buf.getUnsignedByte(pos));
    }
}
