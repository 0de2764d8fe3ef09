package io.tiproxy.proxy.net;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.handler.codec.haproxy.HAProxyCommand;
import io.netty.handler.codec.haproxy.HAProxyMessage;
import io.netty.handler.codec.haproxy.HAProxyMessageEncoder;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.netty.handler.codec.haproxy.HAProxyProxiedProtocol;
import io.netty.util.NetUtil;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Objects;

/**
 * The PROXY protocol v2 header the proxy sends a backend ({@code backend.proxy-protocol: v2}): it names
 * the session's client, so a backend that trusts the proxy (MariaDB's {@code proxy_protocol_networks},
 * TiDB's {@code proxy-protocol.networks}) applies host-based grants, logs and {@code USER()} to the
 * real client instead of to the proxy. It is written as the first bytes of every backend connection
 * of a session: the first login and each re-login a migration or crash recovery makes. The proxy's own
 * connections (health checks, the service account) send none: they are the proxy's, and MariaDB
 * accepts a connection without a header from a trusted network.
 *
 * @param source      the client's address ({@link ClientAddresses#source})
 * @param destination the address the client connected to ({@link ClientAddresses#destination})
 */
public record ProxyHeader(InetSocketAddress source, InetSocketAddress destination) {

    public ProxyHeader {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
    }

    /** The header for a session's client connection, or null when its addresses are not IP addresses. */
    public static ProxyHeader of(Channel client) {
        SocketAddress source = ClientAddresses.source(client);
        SocketAddress destination = ClientAddresses.destination(client);
        if (source instanceof InetSocketAddress s && destination instanceof InetSocketAddress d
                && s.getAddress() != null && d.getAddress() != null) {
            return new ProxyHeader(s, d);
        }
        return null;
    }

    /**
     * Writes the header to a freshly connected backend, before anything else, with Netty's encoder
     * (added for this one write, then removed).
     */
    public ChannelFuture writeTo(Channel backend) {
        backend.pipeline().addFirst("proxy-header", HAProxyMessageEncoder.INSTANCE);
        try {
            return backend.writeAndFlush(toMessage());
        } finally {
            backend.pipeline().remove(HAProxyMessageEncoder.INSTANCE);
        }
    }

    /** A v2 PROXY/TCP message; mixed families are sent as IPv6 (an IPv4 address as {@code ::ffff:a.b.c.d}). */
    HAProxyMessage toMessage() {
        InetAddress src = source.getAddress();
        InetAddress dst = destination.getAddress();
        boolean v4 = src instanceof Inet4Address && dst instanceof Inet4Address;
        HAProxyProxiedProtocol protocol = v4 ? HAProxyProxiedProtocol.TCP4 : HAProxyProxiedProtocol.TCP6;
        return new HAProxyMessage(HAProxyProtocolVersion.V2, HAProxyCommand.PROXY, protocol,
                literal(src, v4), literal(dst, v4), source.getPort(), destination.getPort());
    }

    private static String literal(InetAddress address, boolean v4) {
        if (v4) {
            return address.getHostAddress();
        }
        if (address instanceof Inet4Address) {
            return "::ffff:" + address.getHostAddress();
        }
        // without a scope id (%eth0), which the header has no room for
        return NetUtil.bytesToIpAddress(address.getAddress());
    }

    @Override
    public String toString() {
        return "PROXY " + source + " -> " + destination;
    }
}
