package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.AuthSwitchRequest;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.protocol.HandshakeResponse;
import io.tiproxy.protocol.InitialHandshake;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;
import io.tiproxy.proxy.net.ProxyHeader;
import io.tiproxy.proxy.net.Transport;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * Opens a backend connection and logs in with a {@link Credential} the proxy holds: a native-password
 * hash (answers the greeting's salt or a later auth switch) or a TiDB session token (plugin
 * {@code tidb_session_token}, length-encoded auth data, no switch expected). Everything runs on the given
 * event loop; the promise completes with the authenticated connection or fails with the reason.
 */
public final class BackendAuthenticator implements BackendConnection.Listener {

    /**
     * What the login presents besides the credential; {@code proxyHeader} (null for the proxy's own
     * logins) opens the connection when {@code backend.proxy-protocol} is on.
     */
    public record LoginRequest(String user, String database, int charset, long capabilities, byte[] connectAttrs,
                               Credential credential, ProxyHeader proxyHeader) {

        /** A login for the proxy itself: no PROXY header. */
        public LoginRequest(String user, String database, int charset, long capabilities, byte[] connectAttrs,
                            Credential credential) {
            this(user, database, charset, capabilities, connectAttrs, credential, null);
        }

        @Override
        public String toString() {
            return "LoginRequest[user=" + user + ", db=" + database + "]";
        }
    }

    /** An authenticated backend, the greeting it sent and the capabilities in force on the connection. */
    public record Authenticated(BackendConnection connection, InitialHandshake greeting, long capabilities) {
        public boolean deprecateEof() {
            return Capabilities.has(capabilities, Capabilities.CLIENT_DEPRECATE_EOF);
        }
    }

    private enum State { CONNECTING, GREETING, TLS, AUTH, DONE }

    private final LoginRequest request;
    private final SslContext tls;
    private final Promise<Authenticated> promise;
    private BackendConnection backend;
    private InitialHandshake greeting;
    private State state = State.CONNECTING;
    private int seq;
    private long negotiated;

    private BackendAuthenticator(LoginRequest request, SslContext tls, Promise<Authenticated> promise) {
        this.request = request;
        this.tls = tls;
        this.promise = promise;
    }

    public static Promise<Authenticated> login(EventExecutor loop, Transport transport, String address,
                                               InetSocketAddress target, Duration timeout, SslContext tls,
                                               LoginRequest request) {
        Promise<Authenticated> promise = loop.newPromise();
        BackendAuthenticator auth = new BackendAuthenticator(request, tls, promise);
        BackendConnection.BackendConnectionFuture f = BackendConnection.connect((io.netty.channel.EventLoop) loop,
                transport, target, address, timeout, auth, request.proxyHeader());
        auth.backend = f.connection();
        f.connectFuture().addListener((ChannelFuture cf) -> {
            if (cf.isSuccess()) {
                auth.state = State.GREETING;
                auth.backend.read();
            } else {
                auth.fail("cannot connect to " + address + ": " + cf.cause().getMessage());
            }
        });
        var timer = loop.schedule(() -> auth.fail("login to " + address + " timed out"), timeout.toMillis() * 2,
                java.util.concurrent.TimeUnit.MILLISECONDS);
        promise.addListener(done -> timer.cancel(false));
        return promise;
    }

    @Override
    public void onBackendPacket(BackendConnection from, ByteBuf packet) {
        try {
            if (state == State.DONE) {
                return;
            }
            seq = Wire.sequenceId(packet);
            if (state == State.GREETING) {
                onGreeting(packet);
            } else if (state == State.AUTH) {
                onAuthPacket(packet);
            }
        } catch (MalformedPacketException e) {
            fail("bad packet from " + backend.address() + ": " + e.getMessage());
        } finally {
            packet.release();
        }
    }

    private void onGreeting(ByteBuf packet) {
        if (Packets.isErr(packet)) {
            fail(backend.address() + " refused the connection: " + Packets.errorMessage(packet));
            return;
        }
        greeting = InitialHandshake.read(Packets.payload(packet));
        backend.setThreadId(greeting.connectionId());
        long caps = request.capabilities() & (greeting.capabilities() | Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
                & ~Capabilities.CLIENT_SSL;
        caps |= Capabilities.CLIENT_PROTOCOL_41 | Capabilities.CLIENT_SECURE_CONNECTION | Capabilities.CLIENT_PLUGIN_AUTH;
        byte[] auth;
        String plugin;
        if (request.credential() instanceof Credential.SessionToken token) {
            auth = token.token();
            plugin = "tidb_session_token";
            caps |= Capabilities.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
        } else if (request.credential() instanceof Credential.NativeHash hash) {
            auth = hash.scramble(greeting.salt());
            plugin = NativePassword.PLUGIN;
        } else {
            throw new IllegalStateException("unknown credential");
        }
        if (request.database() != null && !request.database().isEmpty()) {
            caps |= Capabilities.CLIENT_CONNECT_WITH_DB;
        } else {
            caps &= ~Capabilities.CLIENT_CONNECT_WITH_DB;
        }
        negotiated = caps;
        HandshakeResponse response = new HandshakeResponse(caps, 16 * 1024 * 1024, request.charset(), request.user(),
                auth, request.database(), plugin, request.connectAttrs());
        if (tls != null && Capabilities.has(greeting.capabilities(), Capabilities.CLIENT_SSL)) {
            HandshakeResponse withSsl = response.forBackend(caps | Capabilities.CLIENT_SSL, auth, plugin);
            state = State.TLS;
            backend.writeAndFlush(withSsl.writeSslRequest(backend.channel().alloc(), ++seq));
            InetSocketAddress addr = (InetSocketAddress) backend.channel().remoteAddress();
            backend.startTls(tls, addr.getHostString(), addr.getPort()).addListener(f -> {
                if (f.isSuccess()) {
                    send(withSsl);
                } else {
                    fail("TLS to " + backend.address() + " failed: " + f.cause().getMessage());
                }
            });
        } else {
            send(response);
        }
    }

    private void send(HandshakeResponse response) {
        if (state == State.DONE) {
            return;
        }
        state = State.AUTH;
        backend.writeAndFlush(response.write(backend.channel().alloc(), ++seq));
        backend.read();
    }

    private void onAuthPacket(ByteBuf packet) {
        int first = Wire.firstPayloadByte(packet);
        if (first == Packets.OK_HEADER) {
            state = State.DONE;
            promise.trySuccess(new Authenticated(backend, greeting, negotiated));
        } else if (first == Packets.ERR_HEADER) {
            fail(backend.address() + " refused the login: " + Packets.errorMessage(packet));
        } else if (first == Packets.AUTH_SWITCH_HEADER && request.credential() instanceof Credential.NativeHash hash) {
            AuthSwitchRequest sw = AuthSwitchRequest.read(Packets.payload(packet).duplicate());
            if (!sw.plugin().equals(NativePassword.PLUGIN)) {
                fail(backend.address() + " asks for plugin " + sw.plugin() + ", the proxy can only answer "
                        + NativePassword.PLUGIN);
                return;
            }
            backend.writeAndFlush(Packets.of(backend.channel().alloc(), ++seq, hash.scramble(sw.salt())));
            backend.read();
        } else {
            fail(backend.address() + " sent an unexpected authentication packet 0x" + Integer.toHexString(first));
        }
    }

    private void fail(String reason) {
        if (state == State.DONE) {
            return;
        }
        state = State.DONE;
        if (backend != null) {
            backend.close();
        }
        promise.tryFailure(new BackendLoginException(reason));
    }

    @Override
    public void onBackendReadComplete(BackendConnection from) {
    }

    @Override
    public void onBackendWritabilityChanged(BackendConnection from) {
    }

    @Override
    public void onBackendClosed(BackendConnection from, Throwable cause) {
        fail(from.address() + " closed the connection during login" + (cause == null ? "" : ": " + cause.getMessage()));
    }

    /** A login the proxy attempted on its own failed. */
    public static final class BackendLoginException extends Exception {
        public BackendLoginException(String message) {
            super(message, null, false, false);
        }
    }
}
