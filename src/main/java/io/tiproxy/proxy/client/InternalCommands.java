package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.Packets;
import io.tiproxy.proxy.backend.CommandTracker;
import io.tiproxy.proxy.backend.QueryResult;
import io.tiproxy.proxy.backend.ResultCollector;

import java.nio.charset.StandardCharsets;

/**
 * Commands the proxy sends on a session's live backend connection, pipelined with the client's own:
 * the command tracker routes their responses to a listener and the client never sees them.
 */
final class InternalCommands {
    private InternalCommands() {}

    private static final CommandTracker.ResponseListener DISCARD = new CommandTracker.ResponseListener() {
        @Override
        public void onResponsePacket(ByteBuf buf, int start) {
        }

        @Override
        public void onResponseEnd() {
        }
    };

    static void send(ClientConnection conn, Command command, String sql, CommandTracker.ResponseListener listener) {
        ByteBuf packet = Packets.build(conn.channel().alloc(), 0, b -> {
            b.writeByte(command.code());
            b.writeCharSequence(sql, StandardCharsets.UTF_8);
        });
        conn.tracker.onInternalCommand(command, packet, listener == null ? DISCARD : listener);
        conn.backend.writeAndFlush(packet);
    }

    static Promise<QueryResult> query(ClientConnection conn, String sql) {
        Promise<QueryResult> promise = conn.channel().eventLoop().newPromise();
        send(conn, Command.COM_QUERY, sql, new ResultCollector(promise, false));
        return promise;
    }
}
