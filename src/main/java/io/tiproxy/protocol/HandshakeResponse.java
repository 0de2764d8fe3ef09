package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;

/**
 * Protocol::HandshakeResponse41 (and its 32-byte prefix, the SSLRequest).
 *
 * @param connectAttrs raw key/value block of CLIENT_CONNECT_ATTRS (without its length prefix), or null
 */
public record HandshakeResponse(long capabilities, long maxPacketSize, int charset, String user,
                                byte[] authResponse, String database, String authPlugin, byte[] connectAttrs) {

    /** Payload length of an SSLRequest. */
    public static final int SSL_REQUEST_LENGTH = 32;

    /** Capabilities of an SSLRequest or a full response payload (the payload is not consumed). */
    public static long peekCapabilities(ByteBuf p) {
        if (p.readableBytes() < SSL_REQUEST_LENGTH) {
            throw new MalformedPacketException("handshake response shorter than 32 bytes");
        }
        long caps = p.getUnsignedIntLE(p.readerIndex());
        if (!Capabilities.has(caps, Capabilities.CLIENT_MYSQL)) {
            caps |= p.getUnsignedIntLE(p.readerIndex() + 28) << 32;
        }
        return caps;
    }

    /** Parses a full handshake response payload. */
    public static HandshakeResponse read(ByteBuf p) {
        long caps = peekCapabilities(p);
        if (!Capabilities.has(caps, Capabilities.CLIENT_PROTOCOL_41)) {
            throw new MalformedPacketException("pre-4.1 handshake response is not supported");
        }
        Wire.skip(p, 4);
        long maxPacket = Wire.readInt4(p);
        int charset = Wire.readInt1(p);
        Wire.skip(p, 23);
        String user = Wire.readStringNul(p);
        byte[] auth;
        if (Capabilities.has(caps, Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
            auth = Wire.readBytesLenenc(p);
            if (auth == null) {
                auth = new byte[0];
            }
        } else if (Capabilities.has(caps, Capabilities.CLIENT_SECURE_CONNECTION)) {
            auth = Wire.readBytes(p, Wire.readInt1(p));
        } else {
            auth = Wire.readBytesNul(p);
        }
        String db = null;
        if (Capabilities.has(caps, Capabilities.CLIENT_CONNECT_WITH_DB) && p.isReadable()) {
            db = Wire.readStringNul(p);
        }
        String plugin = null;
        if (Capabilities.has(caps, Capabilities.CLIENT_PLUGIN_AUTH) && p.isReadable()) {
            int nul = p.indexOf(p.readerIndex(), p.writerIndex(), (byte) 0);
            plugin = nul < 0 ? Wire.readStringEof(p) : Wire.readStringNul(p);
        }
        byte[] attrs = null;
        if (Capabilities.has(caps, Capabilities.CLIENT_CONNECT_ATTRS) && p.isReadable()) {
            attrs = Wire.readBytesLenenc(p);
        }
        return new HandshakeResponse(caps, maxPacket, charset, user, auth, db, plugin, attrs);
    }

    /** A copy with other capabilities, auth data and plugin: what the proxy sends a backend. */
    public HandshakeResponse forBackend(long caps, byte[] auth, String plugin) {
        return new HandshakeResponse(caps, maxPacketSize, charset, user, auth, database, plugin, connectAttrs);
    }

    /** The 32-byte SSLRequest carrying these capabilities. */
    public ByteBuf writeSslRequest(ByteBufAllocator alloc, int sequenceId) {
        return Packets.build(alloc, sequenceId, this::writeFixedPart);
    }

    public ByteBuf write(ByteBufAllocator alloc, int sequenceId) {
        return Packets.build(alloc, sequenceId, b -> {
            writeFixedPart(b);
            Wire.writeStringNul(b, user);
            if (Capabilities.has(capabilities, Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
                Wire.writeBytesLenenc(b, authResponse);
            } else {
                if (authResponse.length > 255) {
                    throw new IllegalArgumentException("auth data longer than 255 bytes needs CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA");
                }
                b.writeByte(authResponse.length);
                b.writeBytes(authResponse);
            }
            if (Capabilities.has(capabilities, Capabilities.CLIENT_CONNECT_WITH_DB)) {
                Wire.writeStringNul(b, database == null ? "" : database);
            }
            if (Capabilities.has(capabilities, Capabilities.CLIENT_PLUGIN_AUTH)) {
                Wire.writeStringNul(b, authPlugin == null ? "" : authPlugin);
            }
            if (Capabilities.has(capabilities, Capabilities.CLIENT_CONNECT_ATTRS)) {
                Wire.writeBytesLenenc(b, connectAttrs == null ? new byte[0] : connectAttrs);
            }
        });
    }

    private void writeFixedPart(ByteBuf b) {
        Wire.writeInt4(b, capabilities & 0xffffffffL);
        Wire.writeInt4(b, maxPacketSize);
        b.writeByte(charset);
        b.writeZero(19);
        if (Capabilities.has(capabilities, Capabilities.CLIENT_MYSQL)) {
            b.writeZero(4);
        } else {
            Wire.writeInt4(b, capabilities >>> 32);
        }
    }

    @Override
    public String toString() {
        // never print auth data
        return "HandshakeResponse[user=" + user + ", db=" + database + ", plugin=" + authPlugin
                + ", caps=0x" + Long.toHexString(capabilities) + "]";
    }

    public static String pluginName(byte[] nulTerminated) {
        return new String(nulTerminated, StandardCharsets.UTF_8);
    }
}
