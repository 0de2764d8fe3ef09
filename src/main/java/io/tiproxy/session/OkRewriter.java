package io.tiproxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
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
     * The plain-format copy of the OK packet whose header is at {@code start}, or null when the packet is
     * already plain (no info, no session state).
     */
    public static ByteBuf toPlain(ByteBufAllocator alloc, ByteBuf buf, int start) {
        int len = Wire.payloadLength(buf, start);
        int p = start + Wire.HEADER_SIZE;
        SessionTrackParser.OkLayout ok = SessionTrackParser.layout(buf, p, len);
        int fixedEnd = ok.statusIndex() + 4;
        if (fixedEnd == p + len) {
            return null;
        }
        int status = ok.status() & ~ServerStatus.SERVER_SESSION_STATE_CHANGED;
        ByteBuf out = alloc.buffer(Wire.HEADER_SIZE + len);
        out.writeMediumLE(0);
        out.writeByte(buf.getUnsignedByte(start + 3));
        out.writeBytes(buf, p, ok.statusIndex() - p);
        out.writeShortLE(status);
        out.writeBytes(buf, ok.statusIndex() + 2, 2);
        out.writeBytes(buf, ok.infoStart(), ok.infoLength());
        out.setMediumLE(0, out.readableBytes() - Wire.HEADER_SIZE);
        return out;
    }
}
