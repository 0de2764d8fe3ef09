package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.ScheduledFuture;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.MySqlError;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.RejectReason;
import io.tiproxy.proxy.backend.BackendConnection;
import io.tiproxy.proxy.backend.CommandTracker;
import io.tiproxy.proxy.backend.TrackingDefaults;
import io.tiproxy.proxy.net.ClientAddresses;
import io.tiproxy.proxy.net.PacketDecoder;
import io.tiproxy.session.OkRewriter;
import io.tiproxy.session.SessionTrackParser;
import io.tiproxy.session.SqlClassifier;
import io.tiproxy.session.TrackedState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.SocketAddress;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * The client side of one session, on the session's event loop. It runs the {@link ClientHandshake}
 * until the backend accepts the client, then relays commands: each client command is classified and
 * recorded by the {@link CommandTracker}, each backend packet run is inspected and forwarded. Reads
 * alternate with flushes so that neither side can flood the other (backpressure). The
 * {@link SessionMigrator} moves the session to another backend at a safe point.
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter
        implements BackendConnection.Listener, io.tiproxy.balance.RedirectableConn {
    private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

    /** Largest packet a client may send before it is authenticated. */
    public static final int MAX_HANDSHAKE_PAYLOAD = 64 * 1024;
    /** A command this large that loses its backend is reported with a max_allowed_packet hint. */
    private static final long LARGE_COMMAND_BYTES = 1 << 20;

    /** Connection phases; transitions: HANDSHAKE -> COMMAND -> CLOSED, HANDSHAKE -> CLOSED. */
    enum Phase { HANDSHAKE, COMMAND, CLOSED }

    final SessionContext context;
    private final PacketDecoder decoder;
    private Channel channel;
    private long connectionId;
    private Phase phase = Phase.HANDSHAKE;
    private ClientHandshake handshake;
    BackendConnection backend;
    CommandTracker tracker;
    TrackedState state;
    final io.tiproxy.proxy.backend.StatementIdMap statementIds = new io.tiproxy.proxy.backend.StatementIdMap();
    AuthExchange auth;
    long backendCaps;
    long clientCaps;
    int charset;
    byte[] connectAttrs;
    private boolean rewriteOk;
    private ScheduledFuture<?> handshakeTimer;
    private boolean clientFrameContinues;
    private int lastServerSeq;
    private boolean registered;
    private long acceptedNanos;
    /** When the last client command arrived or ended; read by the {@link IdleSweeper} from its own thread. */
    private volatile long lastActiveNanos;
    /** Bytes relayed since the last report to the metrics (reported as each command completes). */
    private long bytesFromBackend;
    private long bytesToBackend;
    private boolean errPending;
    /** Client packets that arrived while the session was being moved; replayed in order afterwards. */
    private final ArrayDeque<ByteBuf> held = new ArrayDeque<>();
    private SessionMigrator migrator;
    /** Set by {@link #closeWhenIdle}: the error this session ends with at its next safe point. */
    private MySqlError closeAtSafePoint;
    private ErrorSource closeAtSafePointSource;
    private ChangeUserRewriter.ChangeUser changeUser;
    /** Told to the client at its next command: its backend died while a transaction was open. */
    private io.tiproxy.protocol.MySqlError deferredError;

    public ClientConnection(SessionContext context, PacketDecoder decoder) {
        this.context = context;
        this.decoder = decoder;
    }

    // ---- lifecycle ---------------------------------------------------------------------------

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channel = ctx.channel();
        acceptedNanos = System.nanoTime();
        context.events().connectionOpened();
        connectionId = context.registry().nextConnectionId();
        int heapLimit = context.settings().maxHeapUsagePercent();
        if (context.memoryGuard().refuses(heapLimit)) {
            int usage = context.memoryGuard().usagePercent();
            log.warn("{}: refused, heap {}% full after GC, above max-heap-usage-percent {}", this, usage, heapLimit);
            context.events().connectionRejected(RejectReason.MEMORY);
            failAndClose(0, MySqlError.heapTooFull(usage, heapLimit), ErrorSource.PROXY_LIMIT);
            return;
        }
        if (!context.registry().tryRegister(connectionId, this, context.settings().maxConnections())) {
            log.warn("{}: refused, max-connections {} reached", this, context.settings().maxConnections());
            context.events().connectionRejected(RejectReason.MAX_CONNECTIONS);
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
    void enterCommandPhase(BackendConnection authenticated) {
        phase = Phase.COMMAND;
        handshakeTimer.cancel(false);
        var response = handshake.clientResponse();
        clientCaps = handshake.clientCapabilities();
        backendCaps = handshake.backendCapabilities();
        charset = response.charset();
        connectAttrs = response.connectAttrs();
        auth = handshake.authExchange();
        state = new TrackedState(response.database());
        rewriteOk = Capabilities.has(backendCaps, Capabilities.CLIENT_SESSION_TRACK)
                && !Capabilities.has(clientCaps, Capabilities.CLIENT_SESSION_TRACK);
        tracker = newTracker();
        decoder.setMaxPayload(Wire.MAX_PAYLOAD);
        decoder.setSingleDecode(false);
        var greeting = context.greetings().get(authenticated.address());
        MigrationStrategy strategy = greeting != null && greeting.isTiDB()
                ? new TiDbSessionStatesStrategy(this) : new TrackedStateStrategy(this);
        migrator = new SessionMigrator(this, strategy);
        if (strategy instanceof TrackedStateStrategy && auth.derived() == null && NativePassword.PLUGIN.equals(auth.plugin())
                && auth.response() != null && auth.response().length > 0) {
            // only logins the backend accepted look an account up: made-up user names cost no service login
            context.accounts().prefetch(channel.eventLoop(), auth.user());
        }
        attachBackend(authenticated);
        lastActiveNanos = System.nanoTime();
        enableSessionTracking(false);
        context.events().handshakeDone(backend.address(), System.nanoTime() - acceptedNanos);
        log.debug("{}: authenticated as {}", this, auth.user());
        backend.read();
        channel.read();
    }

    CommandTracker newTracker() {
        CommandTracker t = new CommandTracker(Capabilities.has(backendCaps, Capabilities.CLIENT_DEPRECATE_EOF));
        t.setCommandListener((command, start) -> {
            long now = System.nanoTime();
            lastActiveNanos = now;
            context.events().queryDone(command, backend.address(), now - start);
            context.events().traffic(backend.address(), bytesFromBackend, bytesToBackend);
            bytesFromBackend = 0;
            bytesToBackend = 0;
        });
        t.setSessionStateListener((buf, p, len) -> SessionTrackParser.parse(buf, p, len, state));
        return t;
    }

    void attachBackend(BackendConnection b) {
        backend = b;
        b.setListener(this);
        b.setInspector(serverInspector);
        context.selector().sessionAttached(b.address());
    }

    /**
     * Asks the backend to report session-state changes; the proxy's own command, pipelined, answer dropped.
     * Not needed on a fresh session where the backend's globals already track everything
     * ({@link TrackingDefaults}); {@code always} when the client has just changed its own tracking.
     */
    void enableSessionTracking(boolean always) {
        if (Capabilities.has(backendCaps, Capabilities.CLIENT_SESSION_TRACK)
                && (always || !context.tracking().covers(backend.address()))) {
            InternalCommands.send(this, Command.COM_QUERY, TrackedStateStrategy.TRACKING_SQL, null);
        }
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
        context.events().connectionClosed(source);
        if (handshakeTimer != null) {
            handshakeTimer.cancel(false);
        }
        if (handshake != null) {
            handshake.abort();
        }
        if (migrator != null) {
            migrator.abort();
        }
        while (!held.isEmpty()) {
            held.poll().release();
        }
        if (backend != null) {
            if (wasCommand) {
                backend.quit();
            } else {
                backend.close(); // a login cut short: the backend rightly counts it as aborted
            }
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

    boolean isClosed() {
        return phase == Phase.CLOSED;
    }

    // ---- client -> backend -------------------------------------------------------------------

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf packet = (ByteBuf) msg;
        switch (phase) {
            case HANDSHAKE -> handshake.onClientPacket(packet);
            case COMMAND -> {
                if (migrator.isMoving()) {
                    held.add(packet);
                } else {
                    onClientCommandPacket(packet);
                }
            }
            case CLOSED -> packet.release();
        }
    }

    private void onClientCommandPacket(ByteBuf packet) {
        bytesToBackend += packet.readableBytes();
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
            if (changeUser != null && changeUser.response() == null) {
                changeUser = changeUser.withResponse(Wire.readBytes(Packets.payload(packet).duplicate(), Packets.payloadLength(packet)));
            }
            tracker.onClientData(packet);
            backend.write(packet);
            return;
        }
        lastServerSeq = 0;
        lastActiveNanos = System.nanoTime();
        int code = Wire.firstPayloadByte(packet);
        Command command = Command.of(code);
        if (deferredError != null && command != Command.COM_QUIT) {
            packet.release();
            channel.write(Packets.err(channel.alloc(), 1, deferredError));
            deferredError = null;
            return;
        }
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
                ByteBuf rewritten;
                try {
                    changeUser = ChangeUserRewriter.parse(packet, clientCaps);
                    rewritten = ChangeUserRewriter.rewrite(packet, clientCaps, channel.alloc());
                } catch (MalformedPacketException e) {
                    log.info("{}: malformed COM_CHANGE_USER from client: {}", this, e.getMessage());
                    failAndClose(1, MySqlError.malformed(e.getMessage()), ErrorSource.CLIENT_PROTOCOL);
                    return;
                } finally {
                    packet.release();
                }
                tracker.onCommand(command, rewritten);
                backend.write(rewritten);
            }
            case COM_QUERY -> {
                KillCommands.Kill kill = KillCommands.parseQuery(this, packet);
                if (kill == null) {
                    onQuery(packet);
                } else {
                    packet.release();
                    ByteBuf translated = KillCommands.execute(this, kill);
                    if (translated != null) {
                        tracker.onCommand(Command.COM_QUERY, translated);
                        backend.write(translated);
                    }
                }
            }
            case COM_PROCESS_KILL -> {
                KillCommands.Kill kill = KillCommands.parseProcessKill(this, packet);
                if (kill == null) {
                    tracker.onCommand(command, packet);
                    backend.write(packet);
                } else {
                    packet.release();
                    KillCommands.execute(this, kill);
                }
            }
            case COM_STMT_EXECUTE, COM_STMT_FETCH, COM_STMT_CLOSE, COM_STMT_RESET, COM_STMT_SEND_LONG_DATA -> {
                if (Packets.payloadLength(packet) < 5) {
                    packet.release();
                    log.info("{}: malformed packet from client: {} without a statement id", this, command);
                    failAndClose(1, MySqlError.malformed(command + " without a statement id"), ErrorSource.CLIENT_PROTOCOL);
                    return;
                }
                long clientId = PreparedStatements.clientId(packet, tracker);
                tracker.onCommand(command, packet);
                backend.write(PreparedStatements.toBackend(this, command, packet, clientId));
                if (command == Command.COM_STMT_CLOSE) {
                    statementIds.forget(clientId);
                }
            }
            case COM_RESET_CONNECTION -> {
                tracker.onCommand(command, packet);
                backend.write(packet);
                state.reset(null, true);
                statementIds.clear();
                enableSessionTracking(false);
            }
            default -> {
                tracker.onCommand(command, packet);
                backend.write(packet);
            }
        }
    }

    private void onQuery(ByteBuf packet) {
        int from = packet.readerIndex() + Wire.HEADER_SIZE + 1;
        int len = Packets.payloadLength(packet) - 1;
        SqlClassifier.Effects effects = SqlClassifier.Effects.NONE;
        if (len > 0 && SqlClassifier.mayMatter(packet, from, len)) {
            byte[] sql = new byte[len];
            packet.getBytes(from, sql);
            effects = SqlClassifier.classify(sql);
        }
        tracker.onCommand(Command.COM_QUERY, packet);
        backend.write(packet);
        if (!effects.isEmpty()) {
            state.apply(effects);
            if (!effects.loadDataLocal() && !state.staleUserVariables().isEmpty()) {
                migrator.refreshUserVariables();
            }
            if (effects.assignedSessionVars().contains("session_track_system_variables")) {
                migrator.resyncTracking(effects.assignedSessionVars());
            }
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (phase == Phase.COMMAND) {
            backend.flush();
            channel.flush();
            if (!migrator.isMoving() && backend.isWritable()) {
                channel.read();
            }
        } else if (phase == Phase.HANDSHAKE) {
            channel.flush();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (phase == Phase.COMMAND && channel.isWritable() && !migrator.isMoving()) {
            backend.read();
        }
    }

    /** After a migration: replay what the client sent meanwhile, then read again. */
    void resumeClient() {
        while (!held.isEmpty() && !migrator.isMoving() && phase == Phase.COMMAND) {
            onClientCommandPacket(held.poll());
        }
        if (phase == Phase.COMMAND && !migrator.isMoving()) {
            backend.flush();
            channel.flush();
            channel.read();
            backend.read();
            closeIfAtSafePoint();
        }
    }

    // ---- backend -> client -------------------------------------------------------------------

    /** Looks at the backend's packets on their way to the client; rows of a forwarded result stream through. */
    private final PacketDecoder.Inspector serverInspector = new PacketDecoder.Inspector() {
        @Override
        public ByteBuf inspect(ByteBuf buf, int start) {
            return inspectServerPacket(buf, start);
        }

        @Override
        public boolean forwardsUnseen(ByteBuf buf, int start) {
            if (!tracker.isForwardedRow(buf, start)) {
                return false;
            }
            lastServerSeq = buf.getUnsignedByte(start + 3);
            return true;
        }
    };

    private ByteBuf inspectServerPacket(ByteBuf buf, int start) {
        lastServerSeq = buf.getUnsignedByte(start + 3);
        Command head = tracker.headCommand();
        boolean internal = tracker.headIsInternal();
        if (!internal && head == Command.COM_STMT_PREPARE && tracker.expectsPrepareOk()) {
            PreparedStatements.prepareOkToClient(this, buf, start);
        }
        if (!internal && head == Command.COM_CHANGE_USER) {
            onChangeUserPacket(buf, start);
        }
        if (tracker.onServerPacket(buf, start)) {
            return PacketDecoder.DROP;
        }
        if (rewriteOk && tracker.lastPacketWasOk()) {
            return OkRewriter.shortenInPlace(buf, start) ? PacketDecoder.SHORTENED : null;
        }
        return null;
    }

    private void onChangeUserPacket(ByteBuf buf, int start) {
        int first = Wire.payloadLength(buf, start) == 0 ? -1 : buf.getUnsignedByte(start + Wire.HEADER_SIZE);
        if (changeUser == null) {
            return;
        }
        if (first == Packets.AUTH_SWITCH_HEADER) {
            var sw = io.tiproxy.protocol.AuthSwitchRequest.read(
                    buf.slice(start + Wire.HEADER_SIZE, Wire.payloadLength(buf, start)).duplicate());
            changeUser = changeUser.withSwitch(sw.plugin(), sw.salt());
        } else if (first == Packets.OK_HEADER) {
            auth = new AuthExchange(changeUser.user(), changeUser.plugin(), changeUser.salt(), changeUser.response());
            state.reset(changeUser.database(), false);
            statementIds.clear();
            migrator.forgetCredential();
            changeUser = null;
            enableSessionTracking(false);
        } else if (first == Packets.ERR_HEADER) {
            // MariaDB resets the session before refusing the new user; which account it runs as is unclear,
            // so the session keeps working where it is but is never replayed elsewhere
            state.reset(null, true);
            statementIds.clear();
            auth = new AuthExchange(auth.user(), "none (COM_CHANGE_USER failed)", null, null);
            migrator.forgetCredential();
            changeUser = null;
        }
    }

    @Override
    public void onBackendPacket(BackendConnection from, ByteBuf packet) {
        if (phase != Phase.COMMAND || from != backend) {
            packet.release();
            return;
        }
        bytesFromBackend += packet.readableBytes();
        channel.write(packet, channel.voidPromise());
    }

    @Override
    public void onBackendReadComplete(BackendConnection from) {
        if (phase != Phase.COMMAND || from != backend) {
            return;
        }
        channel.flush();
        if (channel.isWritable()) {
            backend.read();
        }
        migrator.onIdleCheck();
        closeIfAtSafePoint();
    }

    @Override
    public void onBackendWritabilityChanged(BackendConnection from) {
        if (phase == Phase.COMMAND && from == backend && backend.isWritable() && !migrator.isMoving()) {
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
        boolean clientWaiting = !tracker.isIdle() && !tracker.headIsInternal();
        migrator.onBackendLost(clientWaiting, lastServerSeq);
    }

    /**
     * Tells a client whose command was cut off by a dead backend what happened. A backend refuses a
     * packet beyond its max_allowed_packet with ERR 1153 and closes at once, so its reset usually
     * overtakes the ERR (as "server has gone away" does without a proxy): a large command gets the hint.
     */
    void sendLostConnectionError(int sequenceId, boolean inTransaction) {
        String detail = backend.address() + (inTransaction ? "; the transaction was rolled back" : "");
        if (bytesToBackend >= LARGE_COMMAND_BYTES) {
            detail += "; it closed the connection while receiving a command of " + bytesToBackend
                    + " bytes, perhaps more than its max_allowed_packet";
        }
        channel.writeAndFlush(Packets.err(channel.alloc(), sequenceId, MySqlError.backendLost(detail)));
    }

    /**
     * Ends a session whose backend died and which could not be rebuilt elsewhere, telling the client why:
     * as the answer to a command it sent meanwhile (held), or unsolicited (sequence 0, as a server's
     * timeout error is) to an idle client, which reads it with its next command.
     */
    void failLostSession(String why) {
        int sequenceId = held.isEmpty() ? 0 : 1;
        failAndClose(sequenceId, MySqlError.backendLost(backend.address()
                + "; the session could not be restored on another backend: " + why), ErrorSource.BACKEND_NETWORK);
    }

    /** The backend died between the statements of a transaction: the client's next command fails. */
    void deferLostTransactionError() {
        deferredError = MySqlError.backendLost(backend.address() + "; the open transaction was rolled back");
    }

    /** Answers the current command with OK from the proxy itself. */
    void replyOk() {
        channel.write(Packets.ok(channel.alloc(), 1, tracker.serverStatus()));
    }

    /** Answers the current command with an error from the proxy itself; the session goes on. */
    void replyError(MySqlError error) {
        channel.write(Packets.err(channel.alloc(), 1, error));
    }

    /** The backend's id for this session's connection (SHOW PROCESSLIST), or -1. */
    long backendThreadId() {
        return backend == null ? -1 : backend.threadId();
    }

    // ---- accessors ---------------------------------------------------------------------------

    java.util.Set<Long> typesNeeded() {
        return migrator.typesNeeded();
    }

    Channel channel() {
        return channel;
    }

    PacketDecoder decoder() {
        return decoder;
    }

    public long connectionId() {
        return connectionId;
    }

    /** The client's address: named by a trusted PROXY header, else the socket's peer. */
    public SocketAddress clientAddress() {
        return channel == null ? null : ClientAddresses.source(channel);
    }

    public String backendAddress() {
        return backend == null ? null : backend.address();
    }

    /**
     * {@code "answered"} when the proxy answered the backend's salt itself at login, with the credential
     * derived from a cached account hash (no auth switch), else {@code "relayed"}.
     */
    public String loginPath() {
        AuthExchange a = auth;
        return a != null && a.derived() != null ? "answered" : "relayed";
    }

    public boolean clientUsesTls() {
        return channel != null && channel.pipeline().get(SslHandler.class) != null;
    }

    public CommandTracker tracker() {
        return tracker;
    }

    public String user() {
        return auth != null ? auth.user() : handshake == null ? null : handshake.user();
    }

    /** Asks the session to move to {@code target} (null: any other healthy backend); safe from any thread. */
    public void redirect(String target, String reason) {
        if (channel == null) {
            return;
        }
        channel.eventLoop().execute(() -> {
            if (phase == Phase.COMMAND) {
                migrator.request(target, reason);
            }
        });
    }

    /** Why this session cannot move now, or null; read on the session's loop for an exact answer. */
    public String notMigratableReason() {
        if (phase != Phase.COMMAND) {
            return "not logged in yet";
        }
        String r = tracker.notSafeReason();
        if (r == null) {
            r = state.pinnedReason();
        }
        if (r == null) {
            r = migrator.credentialProblem();
        }
        return r;
    }

    /**
     * The backend is going away and this session could not leave it in time: the client is told why
     * (an ERR packet; an idle client reads it with its next command) and the session ends.
     */
    @Override
    public void closeUnmovable(String backendState) {
        if (channel == null) {
            return;
        }
        channel.eventLoop().execute(() -> {
            if (phase != Phase.COMMAND) {
                return;
            }
            String why = notMigratableReason();
            log.warn("{}: closing: backend is {} and the session could not move: {}", this, backendState, why);
            MySqlError error = MySqlError.cannotMove(backend.address(), backendState, why == null ? "no other backend" : why);
            failAndClose(tracker.isIdle() ? 0 : lastServerSeq + 1, error, ErrorSource.BACKEND_DRAINED);
        });
    }

    /**
     * Closes the session at its next safe point: at once when no command is in flight and no
     * transaction is open, else right after the response that ends the command or the transaction.
     * The client is sent {@code reason} (an idle client reads it with its next command). A session
     * still logging in is closed at once. Safe from any thread.
     */
    public void closeWhenIdle(MySqlError reason, ErrorSource source) {
        if (channel == null) {
            return;
        }
        channel.eventLoop().execute(() -> {
            if (phase == Phase.HANDSHAKE) {
                failAndClose(handshake.nextClientSequence(), reason, source);
            } else if (phase == Phase.COMMAND) {
                closeAtSafePoint = reason;
                closeAtSafePointSource = source;
                closeIfAtSafePoint();
            }
        });
    }

    private void closeIfAtSafePoint() {
        if (closeAtSafePoint != null && phase == Phase.COMMAND && tracker.isIdle() && !tracker.inTransaction()
                && !migrator.isMoving()) {
            log.info("{}: closing at a safe point: {}", this, closeAtSafePoint.message());
            failAndClose(0, closeAtSafePoint, closeAtSafePointSource);
        }
    }

    /**
     * Closes the session when it has been idle for {@code timeout}: logged in, no command in flight, no
     * open transaction, not moving, and no command arrived or ended for that long. The client is sent
     * {@link MySqlError#idleTimeout} (an idle client reads it with its next command). A session inside
     * a transaction is left alone: the backend's own {@code wait_timeout} governs it, as it would
     * without the proxy. Cheap when nothing is due; safe from any thread ({@link IdleSweeper}).
     */
    void closeIfIdle(java.time.Duration timeout, long nowNanos) {
        // phase is read racily here; the decision is taken again on the session's loop
        if (channel == null || phase != Phase.COMMAND || nowNanos - lastActiveNanos < timeout.toNanos()) {
            return;
        }
        channel.eventLoop().execute(() -> {
            if (phase == Phase.COMMAND && tracker.isIdle() && !tracker.inTransaction() && !migrator.isMoving()
                    && held.isEmpty() && System.nanoTime() - lastActiveNanos >= timeout.toNanos()) {
                MySqlError error = MySqlError.idleTimeout(timeout);
                log.info("{}: closing: {}", this, error.message());
                failAndClose(0, error, ErrorSource.IDLE_TIMEOUT);
            }
        });
    }

    /** {@link #notMigratableReason()} computed on the session's loop; safe from any thread. */
    public java.util.concurrent.CompletableFuture<String> notMigratableReasonAsync() {
        java.util.concurrent.CompletableFuture<String> f = new java.util.concurrent.CompletableFuture<>();
        if (channel == null) {
            f.complete("not connected");
            return f;
        }
        channel.eventLoop().execute(() -> f.complete(notMigratableReason()));
        return f;
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
        return "conn=" + connectionId + " client=" + (channel == null ? "?" : ClientAddresses.source(channel))
                + (backend == null ? "" : " backend=" + backend.address());
    }
}
