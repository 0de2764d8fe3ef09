package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Protocol::HandshakeV10, the server's greeting. MariaDB sends its extended capabilities in the
 * last four bytes of the reserved area when {@link Capabilities#CLIENT_MYSQL} is not advertised.
 *
 * @param salt the full auth-plugin data (20 bytes for mysql_native_password), without trailing NUL
 */
public record InitialHandshake(String serverVersion, long connectionId, byte[] salt, long capabilities,
                               int charset, int status, String authPlugin) {

    public static final int PROTOCOL_VERSION = 10;

    /** Parses a greeting payload (without header). */
    public static InitialHandshake read(ByteBuf p) {
        int version = Wire.readInt1(p);
        if (version != PROTOCOL_VERSION) {
            throw new MalformedPacketException("unsupported protocol version " + version);
        }
        String serverVersion = Wire.readStringNul(p);
        long connId = Wire.readInt4(p);
        byte[] salt1 = Wire.readBytes(p, 8);
        Wire.skip(p, 1);
        long caps = Wire.readInt2(p);
        int charset = 0;
        int status = 0;
        int saltLen = 0;
        byte[] salt2 = new byte[0];
        String plugin = "mysql_native_password";
        if (p.isReadable()) {
            charset = Wire.readInt1(p);
            status = Wire.readInt2(p);
            caps |= ((long) Wire.readInt2(p)) << 16;
            saltLen = Wire.readInt1(p);
            Wire.skip(p, 6);
            long ext = Wire.readInt4(p);
            if (!Capabilities.has(caps, Capabilities.CLIENT_MYSQL)) {
                caps |= ext << 32;
            }
            if (Capabilities.has(caps, Capabilities.CLIENT_SECURE_CONNECTION)) {
                int n = Math.max(13, saltLen - 8);
                salt2 = Wire.readBytes(p, Math.min(n, p.readableBytes()));
                int end = salt2.length;
                while (end > 0 && salt2[end - 1] == 0) {
                    end--;
                }
                salt2 = Arrays.copyOf(salt2, end);
            }
            if (Capabilities.has(caps, Capabilities.CLIENT_PLUGIN_AUTH) && p.isReadable()) {
                int nul = p.indexOf(p.readerIndex(), p.writerIndex(), (byte) 0);
                plugin = nul < 0 ? Wire.readStringEof(p) : Wire.readStringNul(p);
            }
        }
        byte[] salt = new byte[salt1.length + salt2.length];
        System.arraycopy(salt1, 0, salt, 0, salt1.length);
        System.arraycopy(salt2, 0, salt, salt1.length, salt2.length);
        return new InitialHandshake(serverVersion, connId, salt, caps, charset, status, plugin);
    }

    /** Builds the greeting as a packet with sequence id 0. */
    public ByteBuf write(ByteBufAllocator alloc) {
        return Packets.build(alloc, 0, b -> {
            b.writeByte(PROTOCOL_VERSION);
            Wire.writeStringNul(b, serverVersion);
            Wire.writeInt4(b, connectionId);
            b.writeBytes(salt, 0, 8);
            b.writeByte(0);
            Wire.writeInt2(b, (int) (capabilities & 0xffff));
            b.writeByte(charset);
            Wire.writeInt2(b, status);
            Wire.writeInt2(b, (int) ((capabilities >>> 16) & 0xffff));
            b.writeByte(salt.length + 1);
            b.writeZero(6);
            if (Capabilities.has(capabilities, Capabilities.CLIENT_MYSQL)) {
                b.writeZero(4);
            } else {
                Wire.writeInt4(b, capabilities >>> 32);
            }
            b.writeBytes(salt, 8, salt.length - 8);
            b.writeByte(0);
            b.writeCharSequence(authPlugin, StandardCharsets.UTF_8);
            b.writeByte(0);
        });
    }

    /** True for TiDB servers, whose version reads like {@code 8.0.11-TiDB-v8.5.0}. */
    public boolean isTiDB() {
        return serverVersion.contains("-TiDB-");
    }
}
