package io.tiproxy.proxy.net;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;

/**
 * PROXY protocol headers written by hand from the specification (haproxy.org proxy-protocol.txt,
 * section 2.2), independently of the product's and Netty's code, for tests to send.
 */
public final class ProxyHeaderBytes {
    public static final byte[] SIGNATURE = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

    private ProxyHeaderBytes() {
    }

    /** A v2 PROXY header over TCP: family and lengths follow from the addresses (4 or 16 bytes). */
    public static byte[] v2(String source, int sourcePort, String destination, int destinationPort) {
        byte[] src = ip(source);
        byte[] dst = ip(destination);
        int family = src.length == 4 ? 0x11 : 0x21; // TCP over IPv4 / IPv6
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(src);
        body.writeBytes(dst);
        body.write(sourcePort >> 8);
        body.write(sourcePort);
        body.write(destinationPort >> 8);
        body.write(destinationPort);
        return raw(0x21, family, body.toByteArray());
    }

    /** A v2 LOCAL header (a load balancer's own connection), no addresses. */
    public static byte[] v2Local() {
        return raw(0x20, 0x00, new byte[0]);
    }

    /** Signature, version/command byte, family byte, 2-byte length, then {@code body} as given. */
    public static byte[] raw(int versionCommand, int family, byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(SIGNATURE);
        out.write(versionCommand);
        out.write(family);
        out.write(body.length >> 8);
        out.write(body.length);
        out.writeBytes(body);
        return out.toByteArray();
    }

    public static byte[] v1(String line) {
        return (line + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] ip(String literal) {
        try {
            return InetAddress.getByName(literal).getAddress();
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(literal, e);
        }
    }
}
