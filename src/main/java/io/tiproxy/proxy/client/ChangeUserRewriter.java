package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;

/**
 * COM_CHANGE_USER carries a scramble computed with the proxy's salt, which no backend knows. The proxy
 * sends it on with empty auth data and the plugin {@code auth_unknown_plugin}, so the backend answers
 * with an AuthSwitchRequest carrying its own salt and plugin, which the client then answers.
 */
final class ChangeUserRewriter {
    private ChangeUserRewriter() {}

    static final String FORCE_SWITCH_PLUGIN = "auth_unknown_plugin";

    /**
     * The parts of COM_CHANGE_USER the proxy keeps, and then the backend's challenge and the client's
     * answer (for re-authentication on migration).
     */
    record ChangeUser(String user, String database, int charset, byte[] connectAttrs,
                      String plugin, byte[] salt, byte[] response) {
        ChangeUser withSwitch(String newPlugin, byte[] newSalt) {
            return new ChangeUser(user, database, charset, connectAttrs, newPlugin, newSalt, null);
        }

        ChangeUser withResponse(byte[] newResponse) {
            return new ChangeUser(user, database, charset, connectAttrs, plugin, salt, newResponse);
        }

        @Override
        public String toString() {
            return "ChangeUser[user=" + user + ", db=" + database + "]";
        }
    }

    static ChangeUser parse(ByteBuf packet, long clientCaps) {
        ByteBuf p = Packets.payload(packet).duplicate();
        Wire.skip(p, 1);
        String user = Wire.readStringNul(p);
        if (Capabilities.has(clientCaps, Capabilities.CLIENT_SECURE_CONNECTION)) {
            Wire.skip(p, Wire.readInt1(p));
        } else {
            Wire.readBytesNul(p);
        }
        String db = p.isReadable() ? Wire.readStringNul(p) : "";
        int charset = p.readableBytes() >= 2 ? Wire.readInt2(p) : 0;
        if (Capabilities.has(clientCaps, Capabilities.CLIENT_PLUGIN_AUTH) && p.isReadable()) {
            Wire.readBytesNul(p);
        }
        byte[] attrs = null;
        if (Capabilities.has(clientCaps, Capabilities.CLIENT_CONNECT_ATTRS) && p.isReadable()) {
            attrs = Wire.readBytesLenenc(p);
        }
        return new ChangeUser(user, db, charset, attrs, null, null, null);
    }

    static ByteBuf rewrite(ByteBuf packet, long clientCaps, ByteBufAllocator alloc) {
        ChangeUser cu = parse(packet, clientCaps);
        return Packets.build(alloc, 0, b -> {
            b.writeByte(0x11);
            Wire.writeStringNul(b, cu.user());
            b.writeByte(0);
            Wire.writeStringNul(b, cu.database());
            Wire.writeInt2(b, cu.charset());
            Wire.writeStringNul(b, FORCE_SWITCH_PLUGIN);
            if (cu.connectAttrs() != null) {
                Wire.writeBytesLenenc(b, cu.connectAttrs());
            }
        });
    }
}
