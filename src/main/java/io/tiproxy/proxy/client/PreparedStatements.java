package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.backend.CommandTracker;

import java.util.HashSet;
import java.util.Set;

/**
 * Keeps client statement ids stable across migrations: translates ids in COM_STMT_* packets and in
 * prepare responses, and re-sends parameter types on the first execution of a re-prepared statement
 * when the client (rightly) thinks the backend already has them.
 */
final class PreparedStatements {
    private PreparedStatements() {}

    private static final long LAST_PREPARED = 0xFFFFFFFFL;

    /** The client id a COM_STMT_* packet names (MariaDB's -1 resolved when no prepare is in flight). */
    static long clientId(ByteBuf packet, CommandTracker tracker) {
        long id = packet.getUnsignedIntLE(packet.readerIndex() + Wire.HEADER_SIZE + 1);
        if (id == LAST_PREPARED && !tracker.prepareInFlight()) {
            return tracker.lastPreparedId();
        }
        return id;
    }

    /** The packet to send the backend: ids translated, parameter types added when the backend lacks them. */
    static ByteBuf toBackend(ClientConnection conn, Command command, ByteBuf packet, long clientId) {
        if (conn.statementIds.isIdentity()) {
            return packet;
        }
        int idIndex = packet.readerIndex() + Wire.HEADER_SIZE + 1;
        long raw = packet.getUnsignedIntLE(idIndex);
        if (raw == LAST_PREPARED && conn.tracker.prepareInFlight()) {
            return packet;
        }
        packet.setIntLE(idIndex, (int) conn.statementIds.backendId(clientId));
        if (command == Command.COM_STMT_EXECUTE && conn.typesNeeded().remove(clientId)) {
            return withTypes(conn, packet, clientId);
        }
        return packet;
    }

    private static ByteBuf withTypes(ClientConnection conn, ByteBuf packet, long clientId) {
        var st = conn.tracker.preparedStatements().get(clientId);
        byte[] types = conn.tracker.parameterTypes(clientId);
        if (st == null || types == null || st.paramCount() == 0) {
            return packet;
        }
        int p = packet.readerIndex() + Wire.HEADER_SIZE;
        int flagIndex = p + 10 + (st.paramCount() + 7) / 8;
        int end = p + Wire.payloadLength(packet, packet.readerIndex());
        if (flagIndex >= end || packet.getUnsignedByte(flagIndex) != 0) {
            return packet;
        }
        ByteBuf out = conn.channel().alloc().buffer(packet.readableBytes() + types.length);
        out.writeBytes(packet, packet.readerIndex(), flagIndex - packet.readerIndex());
        out.writeByte(1);
        out.writeBytes(types);
        out.writeBytes(packet, flagIndex + 1, end - flagIndex - 1);
        out.setMediumLE(0, out.readableBytes() - Wire.HEADER_SIZE);
        packet.release();
        return out;
    }

    /** Rewrites the statement id of a prepare-OK packet to the id the client will use. */
    static void prepareOkToClient(ClientConnection conn, ByteBuf buf, int start) {
        int p = start + Wire.HEADER_SIZE;
        if (conn.statementIds.isIdentity() || Wire.payloadLength(buf, start) < 12 || buf.getUnsignedByte(p) != 0) {
            return;
        }
        long backendId = buf.getUnsignedIntLE(p + 1);
        Set<Long> inUse = new HashSet<>(conn.tracker.preparedStatements().keySet());
        long clientId = conn.statementIds.clientIdForNew(backendId, inUse);
        buf.setIntLE(p + 1, (int) clientId);
    }
}
