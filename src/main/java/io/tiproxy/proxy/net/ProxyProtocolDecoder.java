package io.tiproxy.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageDecoder;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.NetUtil;
import io.tiproxy.protocol.MalformedPacketException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Reads an optional PROXY protocol v2 header at the very start of a client connection (first in the
 * pipeline when {@code proxy.proxy-protocol} is {@code v2}), then removes itself.
 *
 * <p>The MySQL server speaks first, so a client without a header sends nothing until it has the
 * greeting: the proxy greets every connection at once and looks at the first bytes that come back, as
 * TiProxy and MariaDB do. What happens, by source and first bytes:
 * <ul>
 *   <li>a v2 header from a {@link TrustedNetworks trusted network}: parsed (by Netty's
 *       {@link HAProxyMessageDecoder}); its source and destination become the session's
 *       {@link ClientAddresses}. A {@code LOCAL} header (a load balancer's own health check) keeps
 *       the socket's addresses.</li>
 *   <li>a v2 header from any other source, or a v1 (text) header: refused. The header is skipped and
 *       the client's first packet is answered with error 1130, as MariaDB answers; the refusal is logged.</li>
 *   <li>a header that breaks the v2 format: the connection gets an error and is closed.</li>
 *   <li>no header: an ordinary MySQL connection with the socket's addresses, from any source (so a
 *       load balancer's plain health check or an administrator on its host still get in).</li>
 * </ul>
 * A header can only claim the address of its sender's clients; the backend still checks the account.
 */
public final class ProxyProtocolDecoder extends ByteToMessageDecoder {
    private static final Logger log = LoggerFactory.getLogger(ProxyProtocolDecoder.class);

    /** The 12-byte signature that opens every v2 header. */
    static final byte[] V2_SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    private static final byte[] V1_SIGNATURE = "PROXY".getBytes(StandardCharsets.US_ASCII);
    /** Signature, version/command, family/transport and the 2-byte length of the rest. */
    private static final int V2_FIXED_LENGTH = 16;
    /** The longest v1 line the specification allows, CRLF included. */
    private static final int V1_MAX_LENGTH = 107;

    /** Transitions: DETECTING -> (removed) | V2_HEADER -> (removed) | V1_LINE -> (removed); any -> FAILED. */
    private enum State { DETECTING, V2_HEADER, V1_LINE, FAILED }

    private final TrustedNetworks trusted;
    private State state = State.DETECTING;

    public ProxyProtocolDecoder(TrustedNetworks trusted) {
        this.trusted = trusted;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        switch (state) {
            case DETECTING -> detect(ctx, in);
            case V2_HEADER -> readV2(ctx, in);
            case V1_LINE -> readV1(ctx, in);
            case FAILED -> in.skipBytes(in.readableBytes());
        }
    }

    private void detect(ChannelHandlerContext ctx, ByteBuf in) {
        if (startsWith(in, V2_SIGNATURE)) {
            if (in.readableBytes() >= V2_SIGNATURE.length) {
                state = State.V2_HEADER;
                readV2(ctx, in);
            }
        } else if (startsWith(in, V1_SIGNATURE)) {
            if (in.readableBytes() >= V1_SIGNATURE.length) {
                state = State.V1_LINE;
                readV1(ctx, in);
            }
        } else {
            // an ordinary MySQL client: its bytes go on to the framer untouched
            ctx.pipeline().remove(this);
        }
    }

    /** True when the readable bytes so far agree with {@code signature} (all of it or a prefix). */
    private static boolean startsWith(ByteBuf in, byte[] signature) {
        int n = Math.min(in.readableBytes(), signature.length);
        for (int i = 0; i < n; i++) {
            if (in.getByte(in.readerIndex() + i) != signature[i]) {
                return false;
            }
        }
        return true;
    }

    private void readV2(ChannelHandlerContext ctx, ByteBuf in) {
        if (in.readableBytes() < V2_FIXED_LENGTH) {
            return;
        }
        int length = V2_FIXED_LENGTH + in.getUnsignedShort(in.readerIndex() + 14);
        if (in.readableBytes() < length) {
            return;
        }
        SocketAddress peer = ctx.channel().remoteAddress();
        if (!trusted.contains(peer)) {
            in.skipBytes(length);
            refuse(ctx, in, "PROXY protocol header from " + hostOf(peer) + " refused: the address is not in "
                    + "proxy.proxy-protocol-networks");
            return;
        }
        HAProxyMessage message = parse(in.readRetainedSlice(length));
        try {
            accept(ctx, message);
        } finally {
            message.release();
        }
        leave(ctx, in);
    }

    /**
     * Removes this decoder; bytes behind the header go on to the framer. With {@code AUTO_READ} off the
     * framer asks for more only after it was handed something, so when the header was all there was,
     * the next read is asked for here, or the client's first packet would never be read.
     */
    private void leave(ChannelHandlerContext ctx, ByteBuf in) {
        boolean more = in.isReadable();
        ctx.pipeline().remove(this);
        if (!more) {
            ctx.read();
        }
    }

    /** Parses exactly one header with Netty's codec; throws a {@link MalformedPacketException} when it is broken. */
    private HAProxyMessage parse(ByteBuf header) {
        EmbeddedChannel parser = new EmbeddedChannel(new HAProxyMessageDecoder());
        try {
            parser.writeInbound(header);
            HAProxyMessage message = parser.readInbound();
            if (message == null) {
                throw new IllegalStateException("incomplete");
            }
            return message;
        } catch (RuntimeException e) {
            state = State.FAILED;
            String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            throw new MalformedPacketException("bad PROXY protocol v2 header: " + why);
        } finally {
            closeQuietly(parser);
        }
    }

    private static void closeQuietly(EmbeddedChannel parser) {
        try {
            parser.finishAndReleaseAll();
        } catch (RuntimeException e) {
            // the parse outcome is already decided; a second report of the same failure adds nothing
            log.trace("closing the PROXY header parser", e);
        }
    }

    private void accept(ChannelHandlerContext ctx, HAProxyMessage message) {
        if (message.command() == HAProxyCommand.LOCAL) {
            log.debug("PROXY header (LOCAL) from {}: keeping the connection's own addresses", ctx.channel().remoteAddress());
            return;
        }
        HAProxyProxiedProtocol.AddressFamily family = message.proxiedProtocol().addressFamily();
        if (family != HAProxyProxiedProtocol.AddressFamily.AF_IPv4
                && family != HAProxyProxiedProtocol.AddressFamily.AF_IPv6) {
            log.debug("PROXY header from {} names a {} address: keeping the connection's own addresses",
                    ctx.channel().remoteAddress(), family);
            return;
        }
        InetSocketAddress source = address(message.sourceAddress(), message.sourcePort());
        InetSocketAddress destination = address(message.destinationAddress(), message.destinationPort());
        ClientAddresses.setProxied(ctx.channel(), source, destination);
        log.debug("PROXY header from {}: client {}", ctx.channel().remoteAddress(), source);
    }

    private static InetSocketAddress address(String literal, int port) {
        // Netty checked the literal; this conversion never asks DNS
        InetAddress ip = NetUtil.createInetAddressFromIpAddressString(literal);
        return new InetSocketAddress(ip, port);
    }

    private void readV1(ChannelHandlerContext ctx, ByteBuf in) {
        int end = in.indexOf(in.readerIndex(), in.readerIndex() + Math.min(in.readableBytes(), V1_MAX_LENGTH), (byte) '\n');
        if (end < 0) {
            if (in.readableBytes() >= V1_MAX_LENGTH) {
                state = State.FAILED;
                throw new MalformedPacketException("bad PROXY protocol v1 header: no end of line within "
                        + V1_MAX_LENGTH + " bytes");
            }
            return;
        }
        in.readerIndex(end + 1);
        refuse(ctx, in, "PROXY protocol v1 header from " + hostOf(ctx.channel().remoteAddress())
                + " refused: only v2 is accepted (HAProxy: send-proxy-v2)");
    }

    private void refuse(ChannelHandlerContext ctx, ByteBuf in, String why) {
        log.warn("{}", why);
        ClientAddresses.setRefused(ctx.channel(), why);
        leave(ctx, in);
    }

    private static String hostOf(SocketAddress address) {
        return address instanceof InetSocketAddress inet && inet.getAddress() != null
                ? inet.getAddress().getHostAddress() : String.valueOf(address);
    }
}
