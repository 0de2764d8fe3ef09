package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.MySqlError;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.backend.BackendConnection;
import io.tiproxy.proxy.backend.CommandTracker;
import io.tiproxy.proxy.net.PacketDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The client side of one session, on the session's event loop. It runs the {@link ClientHandshake}
 * until the backend accepts the client, then relays commands: each client command is classified and
 * recorded by the {@link CommandTracker}, each backend packet run is inspected and forwarded unchanged.
 * Reads alternate with flushes so that neither side can flood the other (backpressure).
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter implements BackendConnection.Listener {
    private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

    /** Largest packet a client may send before it is authenticated. */
    public static final int MAX_HANDSHAKE_PAYLOAD = 64 * 1024;

    /** Connection phases; transitions: HANDSHAKE -> COMMAND -> CLOSED, HANDSHAKE -> CLOSED. */
    enum Phase { HANDSHAKE, COMMAND, CLOSED }

    private final SessionContext context;
    private final PacketDecoder decoder;
    private Channel channel;
    private long connectionId;
    private Phase phase = Phase.HANDSHAKE;
    private ClientHandshake handshake;
    private BackendConnection backend;
    private CommandTracker tracker;
    private ScheduledFuture<?> handshakeTimer;
    /** The previous client frame had a full 16 MiB payload: the next one continues it. */
    private boolean clientFrameContinues;
    /** Sequence id of the last packet the backend sent in the current command. */
    private int lastServerSeq;
    private boolean registered;
    /** An ERR packet is being written; its write listener closes the channel. */
    private boolean errPending;

    public ClientConnection(SessionContext context, PacketDecoder decoder) {
        this.context = context;
        this.decoder = decoder;
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        connectionId = context.registry().nextConnectionId();
        if (!context.registry().tryRegister(connectionId, this, context.settings().maxConnections())) {
            log.warn("{}: refused, max-connections {} reached", this, context.settings().maxConnections());
            failAndClose(0, MySqlError.tooManyConnections(), ErrorSource.PROXY_LIMIT);
            return;
        }
        registered = true;
        handshakeTimer = ctx.executor().schedule(this::onHandshakeTimeout,
                context.settings().handshakeTimeout().toMillis(), TimeUnit.MILLISECONDS);
        handshake = new ClientHandshake(this, context);
        handshake.start();
    }

    private void onHandshakeTimeout() {
        if (phase == Phase.HANDSHAKE) {
            log.info("{}: handshake timed out", this);
            failAndClose(handshake.nextClientSequence(), MySqlError.handshakeTimeout(), ErrorSource.HANDSHAKE_TIMEOUT);
        }
    }

    /** Called by the handshake once the backend has accepted the client. */
    void enterCommandPhase(BackendConnection authenticated, boolean deprecateEof) {
        phase = Phase.COMMAND;
        handshakeTimer.cancel(false);
        backend = authenticated;
        tracker = new CommandTracker(deprecateEof);
        backend.setListener(this);
        backend.setInspector(this::inspectServerPacket);
        decoder.setMaxPayload(Wire.MAX_PAYLOAD);
        decoder.setSingleDecode(false);
        context.selector().sessionAttached(backend.address());
        log.debug("{}: authenticated", this);
        backend.read();
        channel.read();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        close(ErrorSource.CLIENT_QUIT, null);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        Throwable root = cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
        if (root instanceof MalformedPacketException) {
            log.info("{}: malformed packet from client: {}", this, root.getMessage());
            failAndClose(0, MySqlError.malformed(root.getMessage()), ErrorSource.CLIENT_PROTOCOL);
        } else if (root instanceof IOException || root instanceof javax.net.ssl.SSLException
                || root instanceof DecoderException) {
            log.debug("{}: client connection error: {}", this, root.toString());
            close(ErrorSource.CLIENT_NETWORK, root);
        } else {
            log.error("{}: unexpected error", this, root);
            close(ErrorSource.CLIENT_PROTOCOL, root);
        }
    }

    /** Sends the client an ERR packet, then closes the session. */
    void failAndClose(int sequenceId, MySqlError error, ErrorSource source) {
        if (phase == Phase.CLOSED) {
            return;
        }
        if (channel.isActive()) {
            errPending = true;
            channel.writeAndFlush(Packets.err(channel.alloc(), sequenceId, error))
                    .addListener(ChannelFutureListener.CLOSE);
        }
        close(source, null);
    }

    /** Ends the session: both connections closed, registry and selector told, exactly once. */
    void close(ErrorSource source, Throwable cause) {
        if (phase == Phase.CLOSED) {
            return;
        }
        boolean wasCommand = phase == Phase.COMMAND;
        phase = Phase.CLOSED;
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
        }
        if (handshake != null) {
            handshake.abort();
        }
        if (backend != null) {
            backend.close();
            if (wasCommand) {
                context.selector().sessionDetached(backend.address());
            }
        }
        if (registered) {
            registered = false;
            context.registry().unregister(connectionId);
        }
        if (channel != null && channel.isActive() && !errPending) {
            channel.close();
        }
        log.debug("{}: closed ({})", this, source);
    }

    // ---- client -> backend -------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf packet = (ByteBuf) msg;
        switch (phase) {
            case HANDSHAKE -> handshake.onClientPacket(packet);
            case COMMAND -> onClientCommandPacket(packet);
            case CLOSED -> packet.release();
        }
    }

    private void onClientCommandPacket(ByteBuf packet) {
        boolean continuation = clientFrameContinues;
        clientFrameContinues = Packets.payloadLength(packet) == Wire.MAX_PAYLOAD;
        if (continuation) {
            backend.write(packet);
            return;
        }
        int seq = Wire.sequenceId(packet);
        if (seq != 0) {
            if (!tracker.expectsClientData()) {
                packet.release();
                failAndClose(seq + 1, MySqlError.outOfOrder(0, seq), ErrorSource.CLIENT_PROTOCOL);
                return;
            }
            tracker.onClientData(packet);
            backend.write(packet);
            return;
        }
        int code = Wire.firstPayloadByte(packet);
        Command command = Command.of(code);
        if (command == null || command.shape() == Command.ResponseShape.UNSUPPORTED) {
            packet.release();
            String name = command == null ? "0x" + Integer.toHexString(code) : command.name();
            channel.write(Packets.err(channel.alloc(), 1, MySqlError.unsupportedCommand(name)));
            return;
        }
        switch (command) {
            case COM_QUIT -> {
                packet.release();
                close(ErrorSource.CLIENT_QUIT, null);
            }
            case COM_CHANGE_USER -> {
                ByteBuf rewritten = ChangeUserRewriter.rewrite(packet, handshake.clientCapabilities(), channel.alloc());
                packet.release();
                tracker.onCommand(command, rewritten);
                backend.write(rewritten);
            }
            default -> {
                tracker.onCommand(command, packet);
                backend.write(packet);
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (phase == Phase.COMMAND) {
            backend.flush();
            channel.flush();
            if (backend.isWritable()) {
                channel.read();
            }
        } else if (phase == Phase.HANDSHAKE) {
            channel.flush();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (phase == Phase.COMMAND && channel.isWritable()) {
            backend.read();
        }
    }

    // ---- backend -> client -------------------------------------------------------------------

    private void inspectServerPacket(ByteBuf buf, int start) {
        lastServerSeq = buf.getUnsignedByte(start + 3);
        tracker.onServerPacket(buf, start);
    }

    @Override
    public void onBackendPacket(BackendConnection from, ByteBuf packet) {
        if (phase != Phase.COMMAND) {
            packet.release();
            return;
        }
        channel.write(packet);
    }

    @Override
    public void onBackendReadComplete(BackendConnection from) {
        if (phase != Phase.COMMAND) {
            return;
        }
        channel.flush();
        if (channel.isWritable()) {
            backend.read();
        }
    }

    @Override
    public void onBackendWritabilityChanged(BackendConnection from) {
        if (phase == Phase.COMMAND && backend.isWritable()) {
            channel.read();
        }
    }

    @Override
    public void onBackendClosed(BackendConnection from, Throwable cause) {
        if (phase != Phase.COMMAND || from != backend) {
            return;
        }
        if (cause instanceof DecoderException && cause.getCause() instanceof MalformedPacketException m) {
            log.warn("{}: backend broke the protocol: {}", this, m.getMessage());
        } else {
            log.info("{}: backend connection lost{}", this, cause == null ? "" : ": " + cause);
        }
        if (!tracker.isIdle()) {
            failAndClose(lastServerSeq + 1, MySqlError.backendLost(backend.address()), ErrorSource.BACKEND_NETWORK);
        } else {
            close(ErrorSource.BACKEND_NETWORK, cause);
        }
    }

    // ---- accessors for the handshake and the API ----------------------------------------------

    Channel channel() {
        return channel;
    }

    PacketDecoder decoder() {
        return decoder;
    }

    public long connectionId() {
        return connectionId;
    }

    public SocketAddress clientAddress() {
        return channel == null ? null : channel.remoteAddress();
    }

    public String backendAddress() {
        return backend == null ? null : backend.address();
    }

    public boolean clientUsesTls() {
        return channel != null && channel.pipeline().get(SslHandler.class) != null;
    }

    public CommandTracker tracker() {
        return tracker;
    }

    public String user() {
        return handshake == null ? null : handshake.user();
    }

    /** Closes this session from outside (kill, shutdown); safe from any thread. */
    public void kill(MySqlError reason, ErrorSource source) {
        if (channel == null) {
            return;
        }
        channel.eventLoop().execute(() -> {
            if (phase == Phase.COMMAND && tracker.isIdle()) {
                close(source, null);
            } else {
                failAndClose(phase == Phase.COMMAND ? lastServerSeq + 1 : 0, reason, source);
            }
        });
    }

    @Override
    public String toString() {
        return "conn=" + connectionId + " client=" + (channel == null ? "?" : channel.remoteAddress())
                + (backend == null ? "" : " backend=" + backend.address());
    }
}
