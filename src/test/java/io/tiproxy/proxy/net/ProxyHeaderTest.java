package io.tiproxy.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;

import static org.assertj.core.api.Assertions.assertThat;

/** The header the proxy writes to backends, compared with headers written by hand from the specification. */
class ProxyHeaderTest {

    private static byte[] written(ProxyHeader header) {
        EmbeddedChannel backend = new EmbeddedChannel();
        try {
            header.writeTo(backend);
            assertThat(backend.pipeline().get("proxy-header")).as("the encoder leaves after the header").isNull();
            ByteBuf out = backend.readOutbound();
            try {
                return ByteBufUtil.getBytes(out);
            } finally {
                out.release();
            }
        } finally {
            backend.finishAndReleaseAll();
        }
    }

    @Test
    void ipv4ClientGivesATcp4Header() {
        ProxyHeader header = new ProxyHeader(new InetSocketAddress("127.0.0.5", 40123),
                new InetSocketAddress("127.0.0.1", 6000));
        assertThat(written(header)).isEqualTo(ProxyHeaderBytes.v2("127.0.0.5", 40123, "127.0.0.1", 6000));
    }

    @Test
    void ipv6ClientGivesATcp6Header() {
        ProxyHeader header = new ProxyHeader(new InetSocketAddress("2001:db8::5", 443),
                new InetSocketAddress("2001:db8::1", 6000));
        assertThat(written(header)).isEqualTo(ProxyHeaderBytes.v2("2001:db8::5", 443, "2001:db8::1", 6000));
    }

    @Test
    void mixedFamiliesAreSentAsIpv6WithTheIpv4AddressMapped() {
        ProxyHeader header = new ProxyHeader(new InetSocketAddress("203.0.113.5", 51000),
                new InetSocketAddress("2001:db8::1", 6000));
        byte[] expected = ProxyHeaderBytes.raw(0x21, 0x21, concat(
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 203, 0, 113, 5},
                ipv6("2001:db8::1"), new byte[] {(byte) (51000 >> 8), (byte) 51000, (byte) (6000 >> 8), (byte) 6000}));
        assertThat(written(header)).isEqualTo(expected);
    }

    @Test
    void theClientChannelsProxiedAddressesAreUsed() {
        EmbeddedChannel client = new EmbeddedChannel();
        try {
            assertThat(ProxyHeader.of(client)).as("an embedded channel has no IP addresses").isNull();
            ClientAddresses.setProxied(client, new InetSocketAddress("203.0.113.5", 51000),
                    new InetSocketAddress("10.0.0.1", 6000));
            assertThat(ProxyHeader.of(client)).isEqualTo(new ProxyHeader(new InetSocketAddress("203.0.113.5", 51000),
                    new InetSocketAddress("10.0.0.1", 6000)));
        } finally {
            client.finishAndReleaseAll();
        }
    }

    private static byte[] ipv6(String literal) {
        return new InetSocketAddress(literal, 0).getAddress().getAddress();
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
