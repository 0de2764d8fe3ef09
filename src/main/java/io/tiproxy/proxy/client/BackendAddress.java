package io.tiproxy.proxy.client;

import java.net.InetSocketAddress;

/** Parses backend keys ("host:port", "[v6]:port") into socket addresses. */
public final class BackendAddress {
    private BackendAddress() {}

    public static InetSocketAddress parse(String addr) {
        int colon = addr.lastIndexOf(':');
        if (colon <= 0 || colon == addr.length() - 1) {
            throw new IllegalArgumentException("backend address '" + addr + "' is not host:port");
        }
        String host = addr.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(addr.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("backend address '" + addr + "' has a bad port");
        }
        return new InetSocketAddress(host, port);
    }
}
