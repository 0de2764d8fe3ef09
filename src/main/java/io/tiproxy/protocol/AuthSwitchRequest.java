package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.util.Arrays;

/** Protocol::AuthSwitchRequest: header 0xFE, plugin name, plugin data (the salt, NUL-terminated for native). */
public record AuthSwitchRequest(String plugin, byte[] data) {

    public static AuthSwitchRequest read(ByteBuf payload) {
        int header = Wire.readInt1(payload);
        if (header != Packets.AUTH_SWITCH_HEADER) {
            throw new MalformedPacketException("not an auth switch request: 0x" + Integer.toHexString(header));
        }
        String plugin = Wire.readStringNul(payload);
        return new AuthSwitchRequest(plugin, Wire.readBytesEof(payload));
    }

    /** The salt without the trailing NUL many servers append. */
    public byte[] salt() {
        int end = data.length;
        if (end > 0 && data[end - 1] == 0) {
            end--;
        }
        return Arrays.copyOf(data, end);
    }

    public ByteBuf write(ByteBufAllocator alloc, int sequenceId) {
        return Packets.build(alloc, sequenceId, b -> {
            b.writeByte(Packets.AUTH_SWITCH_HEADER);
            Wire.writeStringNul(b, plugin);
            b.writeBytes(data);
        });
    }
}
