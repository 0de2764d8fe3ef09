package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.tiproxy.protocol.MySqlError;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.ErrorSource;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code KILL [CONNECTION | QUERY] id} and COM_PROCESS_KILL naming a connection id the proxy handed out
 * (drivers and the mariadb CLI use the id from the greeting, which is the proxy's): the proxy resolves it
 * itself, since the same number on a backend is some other session. Ids that are not the proxy's go to
 * the backend unchanged (ids read from SHOW PROCESSLIST are the backend's).
 */
final class KillCommands {
    private KillCommands() {}

    /** ER_KILL_DENIED_ERROR. */
    static final int ER_KILL_DENIED = 1095;

    private static final Pattern KILL = Pattern.compile(
            "\\s*KILL\\s+(?:(CONNECTION|QUERY)\\s+)?(\\d+)\\s*;?\\s*", Pattern.CASE_INSENSITIVE);

    /** A KILL the proxy must resolve: the target and whether only its running statement is meant. */
    record Kill(long id, boolean queryOnly) {}

    /** The KILL in a COM_QUERY packet, or null if it is not one (or names no session of this proxy). */
    static Kill parseQuery(ClientConnection conn, ByteBuf packet) {
        int len = Packets.payloadLength(packet) - 1;
        if (len < 6 || len > 64) {
            return null;
        }
        // most queries are not a KILL: decide from the first non-blank byte before building a String
        int from = packet.readerIndex() + Wire.HEADER_SIZE + 1;
        int i = from;
        while (i < from + len && Character.isWhitespace(packet.getByte(i))) {
            i++;
        }
        if (i == from + len || (packet.getByte(i) | 0x20) != 'k') {
            return null;
        }
        String sql = packet.toString(packet.readerIndex() + Wire.HEADER_SIZE + 1, len, StandardCharsets.US_ASCII);
        Matcher m = KILL.matcher(sql);
        if (!m.matches()) {
            return null;
        }
        long id = Long.parseLong(m.group(2));
        boolean query = m.group(1) != null && m.group(1).toUpperCase(Locale.ROOT).equals("QUERY");
        return conn.context.registry().get(id) == null ? null : new Kill(id, query);
    }

    /** COM_PROCESS_KILL: int&lt;4&gt; connection id. */
    static Kill parseProcessKill(ClientConnection conn, ByteBuf packet) {
        if (Packets.payloadLength(packet) < 5) {
            return null;
        }
        long id = packet.getUnsignedIntLE(packet.readerIndex() + Wire.HEADER_SIZE + 1);
        return conn.context.registry().get(id) == null ? null : new Kill(id, false);
    }

    /**
     * Carries out the kill. Returns the packet to forward to the killer's backend instead (a translated
     * KILL QUERY), or null when the proxy answered the client itself.
     */
    static ByteBuf execute(ClientConnection killer, Kill kill) {
        ClientConnection target = killer.context.registry().get(kill.id());
        if (target == null) {
            killer.replyError(MySqlError.unknownThread(kill.id()));
            return null;
        }
        if (!sameUser(killer.user(), target.user())) {
            // MySQL lets a session kill only its own user's sessions unless it holds SUPER/CONNECTION ADMIN; the
            // proxy cannot see those privileges, so it refuses rather than let any account kill any session
            killer.replyError(new MySqlError(ER_KILL_DENIED, "HY000", "You are not owner of thread " + kill.id()
                    + " (through the proxy a session can kill only sessions of its own user)"));
            return null;
        }
        if (!kill.queryOnly()) {
            target.kill(new MySqlError(MySqlError.ER_CONNECTION_KILLED, "70100", "Connection was killed"), ErrorSource.KILLED);
            killer.replyOk();
            return null;
        }
        String backend = target.backendAddress();
        long thread = target.backendThreadId();
        if (backend == null || thread < 0 || !backend.equals(killer.backendAddress())) {
            killer.replyError(new MySqlError(ER_KILL_DENIED, "HY000", "KILL QUERY " + kill.id()
                    + ": that session runs on backend " + backend + " and this one on " + killer.backendAddress()
                    + "; the proxy can only cancel a statement on the same backend"));
            return null;
        }
        String sql = "KILL QUERY " + thread;
        return Packets.build(killer.channel().alloc(), 0, b -> {
            b.writeByte(0x03);
            b.writeCharSequence(sql, StandardCharsets.US_ASCII);
        });
    }

    private static boolean sameUser(String a, String b) {
        return a != null && a.equals(b);
    }
}
