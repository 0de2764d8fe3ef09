package io.tiproxy.proxy.net;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;

import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Where a client connection really comes from. Behind a load balancer the socket's peer is the load
 * balancer; a trusted PROXY protocol header names the client and the address it connected to, and
 * from then on those are the session's addresses (logs, {@code /api/sessions}, the header sent on to
 * backends). The addresses live on the client channel, set once by {@link ProxyProtocolDecoder}.
 */
public final class ClientAddresses {
    private static final AttributeKey<InetSocketAddress[]> PROXIED = AttributeKey.valueOf("tiproxy.proxied-addresses");
    private static final AttributeKey<String> REFUSED = AttributeKey.valueOf("tiproxy.proxy-header-refused");

    private ClientAddresses() {
    }

    /** The client's address: from a trusted PROXY header, else the socket's peer. */
    public static SocketAddress source(Channel client) {
        InetSocketAddress[] proxied = client.attr(PROXIED).get();
        return proxied != null ? proxied[0] : client.remoteAddress();
    }

    /** The address the client connected to: from a trusted PROXY header, else the proxy's own socket. */
    public static SocketAddress destination(Channel client) {
        InetSocketAddress[] proxied = client.attr(PROXIED).get();
        return proxied != null ? proxied[1] : client.localAddress();
    }

    /** True when a trusted PROXY header named the client. */
    public static boolean isProxied(Channel client) {
        return client.attr(PROXIED).get() != null;
    }

    /**
     * Why the connection's PROXY header was refused, or null. The refusal is told to the client in
     * answer to its first packet (as MariaDB does), so that it reads the error rather than a reset.
     */
    public static String refusal(Channel client) {
        return client.attr(REFUSED).get();
    }

    static void setProxied(Channel client, InetSocketAddress source, InetSocketAddress destination) {
        client.attr(PROXIED).set(new InetSocketAddress[] {source, destination});
    }

    static void setRefused(Channel client, String why) {
        client.attr(REFUSED).set(why);
    }
}
