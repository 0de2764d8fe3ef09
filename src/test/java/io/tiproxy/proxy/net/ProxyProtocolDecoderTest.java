package io.tiproxy.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tiproxy.protocol.MalformedPacketException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The client-side PROXY header decoder, fed real bytes on an embedded channel with a chosen peer address. */
class ProxyProtocolDecoderTest {
    private static final InetSocketAddress LOAD_BALANCER = new InetSocketAddress("10.0.0.7", 40000);
    private static final InetSocketAddress STRANGER = new InetSocketAddress("192.0.2.9", 40001);
    private static final TrustedNetworks TRUSTED = TrustedNetworks.parse(List.of("10.0.0.0/24"));
    /** A client's first packet after the greeting: an SSLRequest-sized payload, sequence 1. */
    private static final byte[] FIRST_PACKET = packet(1, new byte[32]);

    private EmbeddedChannel channel;

    @AfterEach
    void close() {
        if (channel != null) {
            channel.finishAndReleaseAll();
        }
    }

    private EmbeddedChannel channelFrom(SocketAddress peer) {
        channel = new EmbeddedChannel() {
            @Override
            protected SocketAddress remoteAddress0() {
                return peer;
            }
        };
        channel.pipeline().addLast("proxy-header", new ProxyProtocolDecoder(TRUSTED));
        return channel;
    }

    private static byte[] packet(int seq, byte[] payload) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(payload.length);
        out.write(payload.length >> 8);
        out.write(payload.length >> 16);
        out.write(seq);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    private static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(a);
        out.writeBytes(b);
        return out.toByteArray();
    }

    /** Everything that came out of the decoder, joined. */
    private byte[] passedOn() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (ByteBuf buf; (buf = channel.readInbound()) != null; ) {
            out.writeBytes(ByteBufUtil.getBytes(buf));
            buf.release();
        }
        return out.toByteArray();
    }

    @Test
    void anOrdinaryClientPassesUntouchedAndTheDecoderLeaves() {
        EmbeddedChannel ch = channelFrom(STRANGER);
        ch.writeInbound(Unpooled.wrappedBuffer(FIRST_PACKET));
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
        assertThat(ch.pipeline().get("proxy-header")).isNull();
        assertThat(ClientAddresses.isProxied(ch)).isFalse();
        assertThat(ClientAddresses.source(ch)).isEqualTo(STRANGER);
    }

    @Test
    void aTrustedHeaderNamesTheClientAndWhatFollowsPassesOn() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        byte[] header = ProxyHeaderBytes.v2("203.0.113.5", 51000, "10.0.0.1", 6000);
        ch.writeInbound(Unpooled.wrappedBuffer(concat(header, FIRST_PACKET)));
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
        assertThat(ch.pipeline().get("proxy-header")).isNull();
        assertThat(ClientAddresses.source(ch)).isEqualTo(new InetSocketAddress("203.0.113.5", 51000));
        assertThat(ClientAddresses.destination(ch)).isEqualTo(new InetSocketAddress("10.0.0.1", 6000));
        assertThat(ClientAddresses.refusal(ch)).isNull();
    }

    @Test
    void aHeaderAloneAsksForTheClientsFirstPacket() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        ch.config().setAutoRead(false);
        int[] reads = {0};
        ch.pipeline().addFirst(new io.netty.channel.ChannelOutboundHandlerAdapter() {
            @Override
            public void read(io.netty.channel.ChannelHandlerContext ctx) {
                reads[0]++;
                ctx.read();
            }
        });
        ch.writeInbound(Unpooled.wrappedBuffer(ProxyHeaderBytes.v2("203.0.113.5", 51000, "10.0.0.1", 6000)));
        // as the session does: it asked for one read (the header); nothing downstream saw a packet to ask again
        assertThat(reads[0]).as("reads asked for after the header").isEqualTo(1);
    }

    @Test
    void aHeaderArrivingByteByByteIsStillRead() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        byte[] header = ProxyHeaderBytes.v2("2001:db8::5", 443, "2001:db8::1", 6000);
        for (byte b : header) {
            ch.writeInbound(Unpooled.wrappedBuffer(new byte[] {b}));
            assertThat(passedOn()).isEmpty();
        }
        assertThat(ch.pipeline().get("proxy-header")).isNull();
        assertThat(ClientAddresses.source(ch)).isEqualTo(new InetSocketAddress("2001:db8::5", 443));
        ch.writeInbound(Unpooled.wrappedBuffer(FIRST_PACKET));
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
    }

    @Test
    void aLocalHeaderKeepsTheConnectionsOwnAddress() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        ch.writeInbound(Unpooled.wrappedBuffer(concat(ProxyHeaderBytes.v2Local(), FIRST_PACKET)));
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
        assertThat(ClientAddresses.isProxied(ch)).isFalse();
        assertThat(ClientAddresses.source(ch)).isEqualTo(LOAD_BALANCER);
        assertThat(ClientAddresses.refusal(ch)).isNull();
    }

    @Test
    void aHeaderFromAnUntrustedSourceIsSkippedAndRefused() {
        EmbeddedChannel ch = channelFrom(STRANGER);
        byte[] header = ProxyHeaderBytes.v2("203.0.113.5", 51000, "10.0.0.1", 6000);
        ch.writeInbound(Unpooled.wrappedBuffer(concat(header, FIRST_PACKET)));
        // the client's packet goes on so the handshake can answer it with the refusal
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
        assertThat(ClientAddresses.isProxied(ch)).isFalse();
        assertThat(ClientAddresses.source(ch)).isEqualTo(STRANGER);
        assertThat(ClientAddresses.refusal(ch)).contains("192.0.2.9").contains("proxy.proxy-protocol-networks");
    }

    @Test
    void aVersionOneHeaderIsRefusedEvenFromATrustedSource() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        byte[] header = ProxyHeaderBytes.v1("PROXY TCP4 203.0.113.5 10.0.0.1 51000 6000");
        ch.writeInbound(Unpooled.wrappedBuffer(concat(header, FIRST_PACKET)));
        assertThat(passedOn()).isEqualTo(FIRST_PACKET);
        assertThat(ClientAddresses.isProxied(ch)).isFalse();
        assertThat(ClientAddresses.refusal(ch)).contains("v1").contains("only v2");
    }

    @Test
    void aBrokenHeaderFailsAsAMalformedPacket() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        // TCP over IPv4 needs 12 bytes of addresses; these 4 cannot be parsed
        byte[] header = ProxyHeaderBytes.raw(0x21, 0x11, new byte[] {1, 2, 3, 4});
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(header)))
                .isInstanceOf(DecoderException.class)
                .hasCauseInstanceOf(MalformedPacketException.class)
                .cause().hasMessageContaining("bad PROXY protocol v2 header");
        assertThat(ClientAddresses.isProxied(ch)).isFalse();
        // nothing after a broken header is taken for a MySQL packet
        ch.writeInbound(Unpooled.wrappedBuffer(FIRST_PACKET));
        assertThat(passedOn()).isEmpty();
    }

    @Test
    void anUnknownVersionIsBroken() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        byte[] header = ProxyHeaderBytes.raw(0x31, 0x11, new byte[12]);
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(header)))
                .hasCauseInstanceOf(MalformedPacketException.class);
    }

    @Test
    void aVersionOneLineWithoutEndIsBroken() {
        EmbeddedChannel ch = channelFrom(LOAD_BALANCER);
        byte[] endless = "PROXY TCP4 ".repeat(12).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        assertThatThrownBy(() -> ch.writeInbound(Unpooled.wrappedBuffer(endless)))
                .hasCauseInstanceOf(MalformedPacketException.class);
    }
}
