package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.Packets;
import io.tiproxy.proxy.net.PacketDecoder;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A backend connection that only the proxy talks to (restoring a session before the swap, service
 * queries). Commands may be pipelined; each result arrives in order through its promise. Every
 * packet is consumed here, none is forwarded.
 */
public final class ProxyCommandChannel implements BackendConnection.Listener {
    private final BackendConnection connection;
    private final CommandTracker tracker;
    private final List<Promise<QueryResult>> pending = new ArrayList<>();
    private boolean detached;
    /** Why the connection is gone (set once it closed): later commands fail at once with it. */
    private String closedReason;

    public ProxyCommandChannel(BackendConnection connection, boolean deprecateEof) {
        this.connection = connection;
        this.tracker = new CommandTracker(deprecateEof);
        connection.setListener(this);
        connection.setInspector((buf, start) -> {
            tracker.onServerPacket(buf, start);
            return PacketDecoder.DROP;
        });
        connection.read();
    }

    public Promise<QueryResult> query(String sql) {
        return send(Command.COM_QUERY, sql);
    }

    public Promise<QueryResult> prepare(String sql) {
        return send(Command.COM_STMT_PREPARE, sql);
    }

    /** Sends COM_QUERY or COM_STMT_PREPARE with raw statement bytes. */
    public Promise<QueryResult> send(Command command, byte[] sql) {
        Promise<QueryResult> promise = connection.channel().eventLoop().newPromise();
        if (closedReason != null || !connection.isActive()) {
            // no close event would come to fail it: a command on a dead connection fails now
            return promise.setFailure(new IllegalStateException(closedReason != null ? closedReason
                    : "backend " + connection.address() + " connection is closed"));
        }
        ByteBuf packet = Packets.build(connection.channel().alloc(), 0, b -> {
            b.writeByte(command.code());
            b.writeBytes(sql);
        });
        tracker.onInternalCommand(command, packet, new ResultCollector(promise, command == Command.COM_STMT_PREPARE));
        pending.add(promise);
        promise.addListener(f -> pending.remove(promise));
        connection.writeAndFlush(packet);
        return promise;
    }

    private Promise<QueryResult> send(Command command, String sql) {
        return send(command, sql.getBytes(StandardCharsets.UTF_8));
    }

    public boolean isIdle() {
        return tracker.isIdle();
    }

    public BackendConnection connection() {
        return connection;
    }

    /** Stops listening; the connection is handed to a session (which sets its own listener and inspector). */
    public BackendConnection detach() {
        detached = true;
        return connection;
    }

    public void close() {
        detached = true;
        connection.quit();
    }

    @Override
    public void onBackendPacket(BackendConnection from, ByteBuf packet) {
        packet.release();
    }

    @Override
    public void onBackendReadComplete(BackendConnection from) {
        if (!detached) {
            connection.read();
        }
    }

    @Override
    public void onBackendWritabilityChanged(BackendConnection from) {
    }

    @Override
    public void onBackendClosed(BackendConnection from, Throwable cause) {
        closedReason = "backend " + from.address() + " closed the connection"
                + (cause == null ? "" : ": " + cause.getMessage());
        for (Promise<QueryResult> p : List.copyOf(pending)) {
            p.tryFailure(new IllegalStateException(closedReason));
        }
    }
}
