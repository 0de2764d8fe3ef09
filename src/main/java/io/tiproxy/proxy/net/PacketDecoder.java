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
     * as it is ({@code null}), nothing ({@link #DROP}), or a replacement packet the decoder emits in its
     * place. It may change bytes inside the packet but must not retain {@code buf}.
     */
    public interface Inspector {
        /** @param start index of the packet header in {@code buf} */
        ByteBuf inspect(ByteBuf buf, int start);
    }

    /** Inspector answer: leave this packet out of the forwarded stream. */
    public static final ByteBuf DROP = io.netty.buffer.Unpooled.unreleasableBuffer(io.netty.buffer.Unpooled.EMPTY_BUFFER);

    private int maxPayload;
    private Inspector inspector;
    /** Run mode: the previous frame had a full 16 MiB payload, so the next one continues the same logical packet. */
    private boolean continuation;
    /** Run mode: the logical packet being continued was dropped or replaced, so its other frames go too. */
    private boolean skipContinuation;

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
        if (inspector == null) {
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
        while (end - pos >= Wire.HEADER_SIZE) {
            int len = checkedLength(in, pos);
            if (end - pos - Wire.HEADER_SIZE < len) {
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
            if (action != null) {
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
            if (inspector == null) {
                break; // the inspector switched the decoder to per-packet mode
            }
        }
        if (pos > runStart) {
            out.add(in.readRetainedSlice(pos - runStart));
        }
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
