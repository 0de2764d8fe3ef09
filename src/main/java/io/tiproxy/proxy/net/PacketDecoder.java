package io.tiproxy.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.Wire;

import java.util.List;

/**
 * Frames the MySQL byte stream into packets without copying.
 *
 * <p>Two modes, switchable at any time on the channel's event loop:
 * <ul>
 *   <li><b>per packet</b> (no inspector): each complete physical packet, header included, is emitted as
 *   its own retained slice; used while the proxy must look at every packet (handshake, client commands);</li>
 *   <li><b>runs</b> (with an {@link Inspector}): all complete packets available in one read are emitted as a
 *   single slice, after the inspector has seen the first frame of each logical packet; used for the
 *   backend-to-client stream, where rows are forwarded and only terminal packets matter.</li>
 * </ul>
 * A payload larger than {@code maxPayload} is a protocol error ({@link MalformedPacketException}).
 */
public final class PacketDecoder extends ByteToMessageDecoder {

    /**
     * Sees the first physical frame of each logical packet and decides what is forwarded: the packet
     * as it is ({@code null}), nothing ({@link #DROP}), the packet cut shorter where it lies
     * ({@link #SHORTENED}: the inspector wrote a smaller payload length into the header, and what lies
     * beyond it is left out), or a replacement packet the decoder emits in its place. It may change
     * bytes inside the packet but must not retain {@code buf}.
     */
    public interface Inspector {
        /** @param start index of the packet header in {@code buf} */
        ByteBuf inspect(ByteBuf buf, int start);

        /**
         * Asked about a packet not yet complete, with only its header and first payload byte certain to be
         * in {@code buf}: true when it goes to the client unchanged and needs no look at the rest (a row of
         * a result being forwarded). The decoder then forwards it piece by piece as bytes arrive, instead of
         * holding (and copying) the partial packet until it is whole; {@link #inspect} is not called for it.
         */
        default boolean forwardsUnseen(ByteBuf buf, int start) {
            return false;
        }
    }

    /** Inspector answer: leave this packet out of the forwarded stream. */
    public static final ByteBuf DROP = io.netty.buffer.Unpooled.unreleasableBuffer(io.netty.buffer.Unpooled.EMPTY_BUFFER);
    /**
     * Inspector answer: the packet was rewritten in place to the shorter length now in its header
     * (never a packet that continues in another frame); forward that much and skip the rest of it.
     */
    public static final ByteBuf SHORTENED = io.netty.buffer.Unpooled.unreleasableBuffer(io.netty.buffer.Unpooled.EMPTY_BUFFER);

    private int maxPayload;
    private Inspector inspector;
    /** Run mode: the previous frame had a full 16 MiB payload, so the next one continues the same logical packet. */
    private boolean continuation;
    /** Run mode: the logical packet being continued was dropped or replaced, so its other frames go too. */
    private boolean skipContinuation;
    /** Run mode: bytes still to come of a frame being forwarded piece by piece (see {@link Inspector#forwardsUnseen}). */
    private int unseenRemaining;

    public PacketDecoder(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    public void setMaxPayload(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    public void setInspector(Inspector inspector) {
        this.inspector = inspector;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        if (inspector == null && unseenRemaining == 0) {
            decodeOne(in, out);
        } else {
            decodeRun(in, out);
        }
    }

    private void decodeOne(ByteBuf in, List<Object> out) {
        int start = in.readerIndex();
        if (in.readableBytes() < Wire.HEADER_SIZE) {
            return;
        }
        int len = checkedLength(in, start);
        if (in.readableBytes() < Wire.HEADER_SIZE + len) {
            return;
        }
        out.add(in.readRetainedSlice(Wire.HEADER_SIZE + len));
    }

    private void decodeRun(ByteBuf in, List<Object> out) {
        int end = in.writerIndex();
        int runStart = in.readerIndex();
        int pos = runStart;
        if (unseenRemaining > 0) {
            int n = Math.min(unseenRemaining, end - pos);
            pos += n;
            unseenRemaining -= n;
        }
        while (unseenRemaining == 0 && end - pos >= Wire.HEADER_SIZE && inspector != null) {
            int len = checkedLength(in, pos);
            if (end - pos - Wire.HEADER_SIZE < len) {
                if (end - pos > Wire.HEADER_SIZE && forwardsPartial(in, pos)) {
                    continuation = len == Wire.MAX_PAYLOAD;
                    unseenRemaining = Wire.HEADER_SIZE + len - (end - pos);
                    pos = end;
                }
                break;
            }
            ByteBuf action;
            if (continuation) {
                action = skipContinuation ? DROP : null;
            } else {
                action = inspector.inspect(in, pos);
                skipContinuation = action != null;
            }
            continuation = len == Wire.MAX_PAYLOAD;
            int next = pos + Wire.HEADER_SIZE + len;
            if (action == SHORTENED) {
                int kept = pos + Wire.HEADER_SIZE + Wire.payloadLength(in, pos);
                if (continuation || kept > next) {
                    throw new IllegalStateException("an inspector may only shorten a packet that ends in its frame");
                }
                skipContinuation = false;
                out.add(in.readRetainedSlice(kept - runStart));
                in.skipBytes(next - kept);
                runStart = next;
            } else if (action != null) {
                if (pos > runStart) {
                    out.add(in.readRetainedSlice(pos - runStart));
                }
                in.skipBytes(next - pos);
                if (action != DROP) {
                    out.add(action);
                }
                runStart = next;
            }
            pos = next;
        }
        if (pos > runStart) {
            out.add(in.readRetainedSlice(pos - runStart));
        }
    }

    /**
     * Whether the incomplete frame at {@code pos} may be forwarded before it is whole: a continuation frame of
     * a forwarded packet, or a packet the inspector says needs no look.
     */
    private boolean forwardsPartial(ByteBuf in, int pos) {
        if (continuation) {
            return !skipContinuation;
        }
        if (inspector.forwardsUnseen(in, pos)) {
            skipContinuation = false;
            return true;
        }
        return false;
    }

    /** Takes the bytes received but not yet decoded (e.g. a TLS ClientHello right behind an SSLRequest). */
    public ByteBuf takeBuffered(io.netty.buffer.ByteBufAllocator alloc) {
        ByteBuf cumulation = internalBuffer();
        int n = cumulation.readableBytes();
        if (n == 0) {
            return alloc.buffer(0);
        }
        return cumulation.readBytes(n);
    }

    /** Whether bytes are waiting in the decoder for the rest of a packet or a later mode. */
    public boolean hasBuffered() {
        return actualReadableBytes() > 0;
    }

    private int checkedLength(ByteBuf in, int index) {
        int len = Wire.payloadLength(in, index);
        if (len > maxPayload) {
            throw new MalformedPacketException("packet of " + len + " bytes exceeds the limit of " + maxPayload);
        }
        return len;
    }
}
