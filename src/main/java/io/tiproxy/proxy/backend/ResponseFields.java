package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.MalformedPacketException;

/**
 * Reads the few fields {@link CommandTracker} needs from the backend's response packets: status flags of
 * OK and EOF packets and the column count of a result set. Indexes are of the payload (after the header);
 * a field that does not fit is a {@link MalformedPacketException}.
 */
final class ResponseFields {
    private ResponseFields() {}

    /** Status flags of a classic EOF packet at payload index p (header, warnings, status). */
    static int eofStatus(ByteBuf buf, int p, int len) {
        if (len < 5) {
            throw new MalformedPacketException("EOF packet of " + len + " bytes has no status flags");
        }
        return buf.getUnsignedShortLE(p + 3);
    }

    /** Status flags of an OK packet at payload index p: after the header, affected rows and last insert id. */
    static int okStatus(ByteBuf buf, int p, int len) {
        int end = p + len;
        int pos = skipLenenc(buf, p + 1, end);
        pos = skipLenenc(buf, pos, end);
        if (pos + 2 > end) {
            throw new MalformedPacketException("OK packet without status flags");
        }
        return buf.getUnsignedShortLE(pos);
    }

    private static int skipLenenc(ByteBuf buf, int pos, int end) {
        if (pos >= end) {
            throw new MalformedPacketException("truncated length-encoded integer");
        }
        int b = buf.getUnsignedByte(pos);
        int size = b < 0xfb ? 1 : b == 0xfc ? 3 : b == 0xfd ? 4 : b == 0xfe ? 9 : -1;
        if (size < 0) {
            throw new MalformedPacketException("invalid length-encoded integer prefix 0x" + Integer.toHexString(b));
        }
        return pos + size;
    }

    /** The column count opening a result set: a length-encoded integer at payload index p. */
    static long columnCount(ByteBuf buf, int p, int len) {
        if (len < 1) {
            throw new MalformedPacketException("missing column count");
        }
        int b = buf.getUnsignedByte(p);
        if (b < 0xfb) {
            return b;
        }
        int size = b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : -1;
        if (size < 0 || len < 1 + size) {
            throw new MalformedPacketException("invalid column count");
        }
        return switch (size) {
            case 2 -> buf.getUnsignedShortLE(p + 1);
            case 3 -> buf.getUnsignedMediumLE(p + 1);
            default -> buf.getLongLE(p + 1);
        };
    }
}
