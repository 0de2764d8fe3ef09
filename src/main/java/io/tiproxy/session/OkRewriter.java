package io.tiproxy.session;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.ServerStatus;
import io.tiproxy.protocol.Wire;

/**
 * The proxy turns session tracking on for every backend connection; a client that did not ask for
 * CLIENT_SESSION_TRACK must still get OK packets in the plain format: info as string&lt;EOF&gt; and no
 * session-state block.
 */
public final class OkRewriter {
    private OkRewriter() {}

    /**
     * Rewrites the OK packet whose header is at {@code start} into the plain format where it lies: the
     * plain form is never longer (the info loses its length prefix, the session-state block goes), so
     * the bytes move left and the header gets the new length; the old packet's tail is left behind for
     * the caller to skip. Returns false when the packet is already plain (nothing changed).
     */
    public static boolean shortenInPlace(ByteBuf buf, int start) {
        int len = Wire.payloadLength(buf, start);
        int p = start + Wire.HEADER_SIZE;
        SessionTrackParser.OkLayout ok = SessionTrackParser.layout(buf, p, len);
        int fixedEnd = ok.statusIndex() + 4;
        if (fixedEnd == p + len) {
            return false;
        }
        buf.setShortLE(ok.statusIndex(), ok.status() & ~ServerStatus.SERVER_SESSION_STATE_CHANGED);
        // forward, byte by byte: the ranges may overlap and the destination lies before the source
        for (int i = 0; i < ok.infoLength(); i++) {
            buf.setByte(fixedEnd + i, buf.getByte(ok.infoStart() + i));
        }
        buf.setMediumLE(start, fixedEnd - p + ok.infoLength());
        return true;
    }
}
