package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.tiproxy.protocol.AuthSwitchRequest;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.protocol.HandshakeResponse;
import io.tiproxy.protocol.InitialHandshake;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.MySqlError;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.ProxySettings;
import io.tiproxy.proxy.backend.BackendConnection;
import io.tiproxy.proxy.backend.Credential;
import io.tiproxy.proxy.net.ClientAddresses;
import io.tiproxy.proxy.net.ProxyHeader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.security.SecureRandom;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The first login of a session, as TiProxy does it: the proxy greets the client with its own salt and
 * connection id, sends the backend the client's handshake response naming the plugin
 * {@code auth_unknown_plugin} (so the backend answers with an AuthSwitchRequest carrying its real plugin
 * and salt) and relays the exchange until the backend says OK or ERR. The backend stays the authority
 * on accounts; TLS towards the client and towards the backend are negotiated independently.
 *
 * <p>The backend is connected only after the client has sent a valid handshake response, so port
 * scanners and half-open clients never count against a backend's {@code max_connect_errors}; the greeting
 * uses the capabilities and version a backend showed last ({@link GreetingCache}).
 */
final class ClientHandshake implements BackendConnection.Listener {
    private static final Logger log = LoggerFactory.getLogger(ClientHandshake.class);
    private static final SecureRandom RANDOM = new SecureRandom();

    /** States, in order: GREETING -> [CLIENT_TLS] -> CONNECTING -> [BACKEND_TLS] -> AUTHENTICATING -> DONE; any -> ABORTED. */
    enum State { PROBING, GREETING, CLIENT_TLS, CONNECTING, BACKEND_TLS, AUTHENTICATING, DONE, ABORTED }

    private final ClientConnection conn;
    private final SessionContext context;
    private final ProxySettings settings;
    private final Set<String> tried = new HashSet<>();
    private State state;
    private BackendConnection backend;
    private byte[] proxySalt;
    private long offeredCaps;
    private HandshakeResponse clientResponse;
    private long clientCaps;
    private boolean clientTls;
    private int clientSeq;
    private boolean greeted;
    private int backendSeq;
    private long backendCaps;
    private String lastConnectError = "";
    /** What the backend asked for and what the client answered, kept for re-authentication on migration. */
    private String authPlugin;
    private byte[] authSalt;
    private byte[] authResponse;
    /** The greeting of this session's backend connection (the cache may hold another connection's by now). */
    private InitialHandshake backendGreeting;
    /** SHA1(password), when the client's scramble matched a cached account hash: the proxy answers the backend itself. */
    private Credential.NativeHash derived;
    private io.netty.util.concurrent.ScheduledFuture<?> greetingTimer;

    ClientHandshake(ClientConnection conn, SessionContext context) {
        this.conn = conn;
        this.context = context;
        this.settings = context.settings();
    }

    void start() {
        InitialHandshake known = context.greetings().latest();
        if (known == null) {
            state = State.PROBING;
            connectNext();
        } else {
            greetClient(known);
        }
    }

    /** The sequence id the next packet to the client must carry (0 before the greeting). */
    int nextClientSequence() {
        if (!greeted) {
            return 0;
        }
        return (clientSeq + 1) & 0xff;
    }

    long clientCapabilities() {
        return clientCaps;
    }

    String user() {
        return clientResponse == null ? null : clientResponse.user();
    }

    HandshakeResponse clientResponse() {
        return clientResponse;
    }

    /** The authentication exchange of the first login. */
    AuthExchange authExchange() {
        return new AuthExchange(user(), authPlugin, authSalt, authResponse, derived);
    }

    /** Capabilities in force between the proxy and the backend. */
    long backendCapabilities() {
        return backendCaps;
    }

    void abort() {
        if (greetingTimer != null) {
            greetingTimer.cancel(false);
        }
        if (state != State.DONE) {
            state = State.ABORTED;
            if (backend != null) {
                backend.close();
            }
        }
    }

    // ---- greeting the client ------------------------------------------------------------------

    private void greetClient(InitialHandshake backendGreeting) {
        proxySalt = newSalt();
        offeredCaps = (backendGreeting.capabilities() & Capabilities.PROXY_SUPPORTED)
                | (settings.serverTls() != null ? Capabilities.CLIENT_SSL : 0);
        String version = settings.serverVersion().isEmpty() ? backendGreeting.serverVersion() : settings.serverVersion();
        InitialHandshake greeting = new InitialHandshake(version, conn.connectionId(), proxySalt, offeredCaps,
                backendGreeting.charset(), backendGreeting.status(), "mysql_native_password");
        clientSeq = 0;
        greeted = true;
        state = State.GREETING;
        conn.channel().writeAndFlush(greeting.write(conn.channel().alloc()));
        conn.channel().read();
    }

    /**
     * 20 printable, non-NUL scramble bytes. One {@code nextBytes} call: each call into the default
     * {@link SecureRandom} (NativePRNG) takes a lock and reads the kernel's generator, so drawing the bytes
     * one by one cost a login 20 such calls.
     */
    private static byte[] newSalt() {
        byte[] salt = new byte[20];
        RANDOM.nextBytes(salt);
        for (int i = 0; i < salt.length; i++) {
            salt[i] = (byte) (0x21 + (salt[i] & 0xff) % (0x7e - 0x21));
        }
        return salt;
    }

    // ---- client packets -----------------------------------------------------------------------

    void onClientPacket(ByteBuf packet) {
        try {
            int seq = Wire.sequenceId(packet);
            if (state != State.GREETING && state != State.CLIENT_TLS && state != State.AUTHENTICATING) {
                throw new MalformedPacketException("unexpected packet from client during " + state);
            }
            String proxyHeaderRefused = ClientAddresses.refusal(conn.channel());
            if (proxyHeaderRefused != null) {
                // told in answer to the client's first packet, as MariaDB does, so it reads the error, not a reset
                conn.failAndClose((seq + 1) & 0xff, MySqlError.proxyHeaderRefused(proxyHeaderRefused), ErrorSource.CLIENT_PROTOCOL);
                return;
            }
            if (seq != nextClientSequence()) {
                conn.failAndClose(nextClientSequence(), MySqlError.outOfOrder(nextClientSequence(), seq), ErrorSource.CLIENT_PROTOCOL);
                return;
            }
            clientSeq = seq;
            if (state == State.AUTHENTICATING) {
                relayToBackend(packet.retain());
            } else {
                onClientResponse(Packets.payload(packet));
            }
        } catch (MalformedPacketException e) {
            log.info("{}: bad handshake from client: {}", conn, e.getMessage());
            conn.failAndClose(nextClientSequence(), MySqlError.handshake(e.getMessage()), ErrorSource.CLIENT_PROTOCOL);
        } finally {
            packet.release();
        }
    }

    private void onClientResponse(ByteBuf payload) {
        long caps = HandshakeResponse.peekCapabilities(payload);
        if (payload.readableBytes() == HandshakeResponse.SSL_REQUEST_LENGTH && Capabilities.has(caps, Capabilities.CLIENT_SSL)) {
            startClientTls();
            return;
        }
        if (settings.requireClientTls() && !clientTls) {
            log.info("{}: refused a plaintext login: TLS is required", conn);
            conn.failAndClose(nextClientSequence(), MySqlError.tlsRequired(), ErrorSource.CLIENT_TLS);
            return;
        }
        HandshakeResponse response = HandshakeResponse.read(payload);
        if ((response.capabilities() & Capabilities.PROXY_REQUIRED) != Capabilities.PROXY_REQUIRED) {
            throw new MalformedPacketException("client lacks PROTOCOL_41, SECURE_CONNECTION or PLUGIN_AUTH");
        }
        clientResponse = response;
        clientCaps = response.capabilities() & offeredCaps;
        if (backend != null && backend.isActive()) {
            sendBackendResponse();
        } else {
            state = State.CONNECTING;
            connectNext();
        }
    }

    private void startClientTls() {
        SslContext tls = settings.serverTls();
        if (tls == null) {
            throw new MalformedPacketException("client requested TLS, which the proxy did not offer");
        }
        state = State.CLIENT_TLS;
        clientTls = true;
        SslHandler ssl = tls.newHandler(conn.channel().alloc());
        conn.channel().pipeline().addFirst("tls", ssl);
        // Bytes already received behind the SSLRequest (the ClientHello) belong to TLS: feed them through it.
        conn.channel().eventLoop().execute(() -> {
            if (conn.decoder().hasBuffered()) {
                conn.channel().pipeline().fireChannelRead(conn.decoder().takeBuffered(conn.channel().alloc()));
                conn.channel().pipeline().fireChannelReadComplete();
            }
        });
        ssl.handshakeFuture().addListener(f -> {
            if (f.isSuccess()) {
                conn.channel().read();
            } else if (state != State.ABORTED) {
                log.info("{}: client TLS handshake failed: {}", conn, f.cause().toString());
                conn.close(ErrorSource.CLIENT_TLS, f.cause());
            }
        });
    }

    // ---- backend connection --------------------------------------------------------------------

    private void connectNext() {
        String addr = context.selector().select(tried);
        if (addr == null) {
            String why = tried.isEmpty() ? context.selector().unavailableReason() : lastConnectError;
            fail(MySqlError.backendUnavailable(why), ErrorSource.BACKEND_CONNECT);
            return;
        }
        tried.add(addr);
        InetSocketAddress target;
        try {
            target = BackendAddress.parse(addr);
        } catch (IllegalArgumentException e) {
            lastConnectError = e.getMessage();
            connectNext();
            return;
        }
        ProxyHeader header = settings.sendProxyProtocol() && state != State.PROBING ? ProxyHeader.of(conn.channel()) : null;
        BackendConnection.BackendConnectionFuture attempt = BackendConnection.connect(conn.channel().eventLoop(),
                context.transport(), target, addr, settings.backendConnectTimeout(), this, header);
        backend = attempt.connection();
        attempt.connectFuture().addListener((ChannelFuture f) -> {
            if (state == State.ABORTED) {
                f.channel().close();
            } else if (f.isSuccess()) {
                backendSeq = 0;
                awaitGreeting(attempt.connection());
                backend.read();
            } else {
                lastConnectError = addr + ": " + rootMessage(f.cause());
                log.warn("{}: cannot connect to backend {}", conn, lastConnectError);
                connectNext();
            }
        });
    }

    /**
     * A backend that accepts the TCP connection but never greets (frozen, e.g. SIGSTOP, before the health
     * check notices) would hold the client until its handshake timeout and then fail it with an error that
     * blames the client: after the backend connect timeout, the next backend is tried instead.
     */
    private void awaitGreeting(BackendConnection attempt) {
        long millis = settings.backendConnectTimeout().toMillis();
        greetingTimer = conn.channel().eventLoop().schedule(() -> {
            if (backend == attempt && (state == State.PROBING || state == State.CONNECTING)) {
                lastConnectError = attempt.address() + ": no greeting within " + millis + " ms";
                log.warn("{}: backend did not greet, trying another: {}", conn, lastConnectError);
                backend = null;
                attempt.close();
                connectNext();
            }
        }, millis, java.util.concurrent.TimeUnit.MILLISECONDS);
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
    }

    private void onBackendGreeting(ByteBuf packet) {
        if (greetingTimer != null) {
            // done with: a timer left to expire would sit in the loop's queue for the whole timeout
            greetingTimer.cancel(false);
            greetingTimer = null;
        }
        if (Packets.isErr(packet)) {
            lastConnectError = backend.address() + ": " + Packets.errorMessage(packet);
            log.warn("{}: backend refused the connection: {}", conn, lastConnectError);
            backend.close();
            connectNext();
            return;
        }
        InitialHandshake greeting = InitialHandshake.read(Packets.payload(packet));
        backend.setThreadId(greeting.connectionId());
        backendGreeting = greeting;
        context.greetings().remember(backend.address(), greeting);
        if (state == State.PROBING) {
            if (settings.sendProxyProtocol()) {
                // opened before the client's own PROXY header could name it: learn the greeting, then log in anew
                BackendConnection probe = backend;
                backend = null;
                tried.remove(probe.address());
                probe.close();
            }
            greetClient(greeting);
            return;
        }
        long missing = clientCaps & Capabilities.CLIENT_DEPRECATE_EOF & ~greeting.capabilities();
        if (missing != 0) {
            fail(MySqlError.backendUnavailable(backend.address() + " lacks CLIENT_DEPRECATE_EOF"), ErrorSource.BACKEND_PROTOCOL);
            return;
        }
        sendBackendResponse();
    }

    private void sendBackendResponse() {
        InitialHandshake greeting = backendGreeting;
        long serverCaps = greeting == null ? offeredCaps : greeting.capabilities();
        long caps = clientCaps & serverCaps & ~Capabilities.CLIENT_SSL;
        caps |= Capabilities.CLIENT_PLUGIN_AUTH | Capabilities.CLIENT_SECURE_CONNECTION | Capabilities.CLIENT_PROTOCOL_41;
        // session tracking feeds the proxy's copy of the session state, whether or not the client asked for it
        caps |= serverCaps & Capabilities.CLIENT_SESSION_TRACK;
        if (clientResponse.database() != null && !clientResponse.database().isEmpty()) {
            caps |= Capabilities.CLIENT_CONNECT_WITH_DB;
        } else {
            caps &= ~Capabilities.CLIENT_CONNECT_WITH_DB;
        }
        SslContext tls = settings.backendTls();
        boolean backendHasTls = Capabilities.has(serverCaps, Capabilities.CLIENT_SSL);
        if (tls != null && backendHasTls) {
            caps |= Capabilities.CLIENT_SSL;
        } else if (settings.requireBackendTls()) {
            fail(MySqlError.backendUnavailable(backend.address() + " does not support TLS, which require-backend-tls demands"),
                    ErrorSource.BACKEND_CONNECT);
            return;
        }
        this.backendCaps = caps & ~Capabilities.CLIENT_SSL;
        HandshakeResponse toBackend;
        derived = greeting == null ? null : deriveCredential();
        if (derived != null) {
            // the client's password is known to match a stored hash: answer the backend's own salt, no auth switch
            authPlugin = NativePassword.PLUGIN;
            authSalt = proxySalt;
            authResponse = clientResponse.authResponse();
            toBackend = clientResponse.forBackend(caps, derived.scramble(greeting.salt()), NativePassword.PLUGIN);
        } else {
            toBackend = clientResponse.forBackend(caps, new byte[0], ChangeUserRewriter.FORCE_SWITCH_PLUGIN);
        }
        if (Capabilities.has(caps, Capabilities.CLIENT_SSL)) {
            state = State.BACKEND_TLS;
            backend.writeAndFlush(toBackend.writeSslRequest(conn.channel().alloc(), ++backendSeq));
            InetSocketAddress addr = BackendAddress.parse(backend.address());
            Future<?> done = backend.startTls(tls, addr.getHostString(), addr.getPort());
            done.addListener(f -> {
                if (state == State.ABORTED) {
                    return;
                }
                if (f.isSuccess()) {
                    authenticate(toBackend);
                } else {
                    fail(MySqlError.backendUnavailable("TLS to " + backend.address() + " failed: " + rootMessage(f.cause())),
                            ErrorSource.BACKEND_CONNECT);
                }
            });
        } else {
            authenticate(toBackend);
        }
    }

    /**
     * SHA1(password) from the client's mysql_native_password scramble of the proxy's salt, when the
     * account's stored hash is cached and matches; else null and the backend is asked to switch plugins,
     * so it sees the client's own answer. Either way the backend decides: a stale cached hash (password
     * changed since) matches only the old password, whose derived answer the backend then refuses
     * with its own error, as it would refuse the client.
     */
    private Credential.NativeHash deriveCredential() {
        byte[] scramble = clientResponse.authResponse();
        if (!NativePassword.PLUGIN.equals(clientResponse.authPlugin()) || scramble == null || scramble.length != 20) {
            return null;
        }
        List<byte[]> hashes = context.accounts().cached(clientResponse.user());
        if (hashes == null) {
            return null;
        }
        for (byte[] stored : hashes) {
            byte[] hash1 = NativePassword.recoverHash1(scramble, proxySalt, stored);
            if (hash1 != null) {
                return new Credential.NativeHash(hash1);
            }
        }
        return null;
    }

    private void authenticate(HandshakeResponse toBackend) {
        state = State.AUTHENTICATING;
        backend.writeAndFlush(toBackend.write(conn.channel().alloc(), ++backendSeq));
        backend.read();
    }

    // ---- authentication relay ------------------------------------------------------------------

    @Override
    public void onBackendPacket(BackendConnection from, ByteBuf packet) {
        try {
            if (from != backend || state == State.ABORTED || state == State.DONE) {
                return;
            }
            backendSeq = Wire.sequenceId(packet);
            if (state == State.PROBING || state == State.CONNECTING) {
                onBackendGreeting(packet);
            } else if (state == State.AUTHENTICATING) {
                onBackendAuthPacket(packet);
            } else {
                throw new MalformedPacketException("unexpected packet from backend during " + state);
            }
        } catch (MalformedPacketException e) {
            log.warn("{}: backend {} broke the protocol: {}", conn, from.address(), e.getMessage());
            fail(MySqlError.backendUnavailable("bad handshake from " + from.address()), ErrorSource.BACKEND_PROTOCOL);
        } finally {
            packet.release();
        }
    }

    private void onBackendAuthPacket(ByteBuf packet) {
        int first = Wire.firstPayloadByte(packet);
        if (first == Packets.AUTH_SWITCH_HEADER) {
            AuthSwitchRequest sw = AuthSwitchRequest.read(Packets.payload(packet).duplicate());
            if (derived != null && NativePassword.PLUGIN.equals(sw.plugin())) {
                // a new salt for the same plugin: the derived credential answers it too
                backendSeq = (backendSeq + 1) & 0xff;
                backend.writeAndFlush(Packets.of(backend.channel().alloc(), backendSeq, derived.scramble(sw.salt())));
                backend.read();
                return;
            }
            derived = null;
            authPlugin = sw.plugin();
            authSalt = sw.salt();
            authResponse = null;
        }
        ByteBuf toClient = packet.retainedDuplicate();
        clientSeq = nextClientSequence();
        Wire.setSequenceId(toClient, clientSeq);
        if (first == Packets.OK_HEADER) {
            state = State.DONE;
            conn.channel().writeAndFlush(toClient);
            conn.enterCommandPhase(backend);
        } else if (first == Packets.ERR_HEADER) {
            log.info("{}: backend {} refused user '{}': {}", conn, backend.address(), user(), Packets.errorMessage(packet));
            conn.channel().writeAndFlush(toClient).addListener(io.netty.channel.ChannelFutureListener.CLOSE);
            conn.close(ErrorSource.BACKEND_AUTH, null);
        } else {
            conn.channel().writeAndFlush(toClient);
            conn.channel().read();
        }
    }

    private void relayToBackend(ByteBuf packet) {
        if (authResponse == null && authSalt != null) {
            authResponse = Wire.readBytes(Packets.payload(packet).duplicate(), Packets.payloadLength(packet));
        }
        backendSeq = (backendSeq + 1) & 0xff;
        Wire.setSequenceId(packet, backendSeq);
        backend.writeAndFlush(packet);
        backend.read();
    }

    @Override
    public void onBackendReadComplete(BackendConnection from) {
    }

    @Override
    public void onBackendWritabilityChanged(BackendConnection from) {
    }

    @Override
    public void onBackendClosed(BackendConnection from, Throwable cause) {
        if (from != backend || state == State.DONE || state == State.ABORTED) {
            return;
        }
        if (state == State.GREETING || state == State.CLIENT_TLS) {
            // probe connection closed while the client thinks: a new one is made after its response
            backend = null;
            return;
        }
        lastConnectError = from.address() + ": connection closed during handshake"
                + (cause == null ? "" : " (" + rootMessage(cause) + ")");
        if (state == State.AUTHENTICATING) {
            fail(MySqlError.backendLost(lastConnectError), ErrorSource.BACKEND_NETWORK);
        } else if (state == State.PROBING || state == State.CONNECTING) {
            connectNext();
        } else {
            fail(MySqlError.backendUnavailable(lastConnectError), ErrorSource.BACKEND_CONNECT);
        }
    }

    private void fail(MySqlError error, ErrorSource source) {
        int seq = greeted ? nextClientSequence() : 0;
        state = State.ABORTED;
        if (backend != null) {
            backend.close();
        }
        conn.failAndClose(seq, error, source);
    }
}
