package io.tiproxy.proxy.backend;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.tiproxy.protocol.Command;
import io.tiproxy.proxy.net.PacketDecoder;
import io.tiproxy.proxy.net.ProxyHeader;
import io.tiproxy.proxy.net.Transport;

import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * One connection to a backend server, living on its session's event loop. It frames what the backend
 * sends and hands each packet (or run of packets) to its {@link Listener}; reads happen only when asked
 * ({@code AUTO_READ=false}), which is how the session applies backpressure.
 */
public final class BackendConnection extends ChannelInboundHandlerAdapter {

    /** Maximum payload accepted from a backend: any legal packet. */
    private static final int MAX_PAYLOAD = 0xFFFFFF;

    /** Receives what the backend sends; called on the session's event loop. */
    public interface Listener {
        /** A packet, or in run mode a run of packets; the listener owns the buffer. */
        void onBackendPacket(BackendConnection backend, ByteBuf packet);

        void onBackendReadComplete(BackendConnection backend);

        void onBackendWritabilityChanged(BackendConnection backend);

        /** The connection closed or failed; {@code cause} is null for an orderly close. */
        void onBackendClosed(BackendConnection backend, Throwable cause);
    }

    private final String address;
    private final PacketDecoder decoder = new PacketDecoder(MAX_PAYLOAD);
    private Channel channel;
    private Listener listener;
    private boolean closedNotified;
    private long threadId = -1;

    private BackendConnection(String address, Listener listener) {
        this.address = address;
        this.listener = listener;
    }

    /** Connects on the given event loop; the future completes when the TCP connection is up. */
    public static BackendConnectionFuture connect(EventLoop loop, Transport transport, InetSocketAddress target,
                                                  String address, Duration timeout, Listener listener) {
        return connect(loop, transport, target, address, timeout, listener, null);
    }

    /**
     * Connects as above; a non-null {@code proxyHeader} is written as the connection's first bytes, before
     * the caller's own connect listeners run (they are added after this one).
     */
    public static BackendConnectionFuture connect(EventLoop loop, Transport transport, InetSocketAddress target,
                                                  String address, Duration timeout, Listener listener,
                                                  ProxyHeader proxyHeader) {
        BackendConnection conn = new BackendConnection(address, listener);
        ChannelFuture f = new Bootstrap()
                .group(loop)
                .channel(transport.socketChannelClass())
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.SO_KEEPALIVE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE, timeout.toMillis()))
                .handler(new io.netty.channel.ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast("framer", conn.decoder);
                        ch.pipeline().addLast("backend", conn);
                    }
                })
                .connect(target);
        conn.channel = f.channel();
        if (proxyHeader != null) {
            f.addListener((ChannelFuture cf) -> {
                if (cf.isSuccess()) {
                    proxyHeader.writeTo(cf.channel()).addListener(ChannelFutureListener.CLOSE_ON_FAILURE);
                }
            });
        }
        return new BackendConnectionFuture(conn, f);
    }

    /** A connection attempt: the connection and the future of its TCP connect. */
    public record BackendConnectionFuture(BackendConnection connection, ChannelFuture connectFuture) {}

    public void setListener(Listener listener) {
        this.listener = listener;
    }

    /** Switches framing to runs of packets, each packet's first frame shown to the inspector. */
    public void setInspector(PacketDecoder.Inspector inspector) {
        decoder.setInspector(inspector);
    }

    /** Upgrades to TLS as a client (after the SSLRequest was written); completes when the TLS handshake does. */
    public Future<Channel> startTls(SslContext ctx, String host, int port) {
        SslHandler ssl = ctx.newHandler(channel.alloc(), host, port);
        channel.pipeline().addFirst("tls", ssl);
        return ssl.handshakeFuture();
    }

    public void read() {
        channel.read();
    }

    /** Queues a packet; failures surface as the channel closing, so no promise is allocated per write. */
    public void write(ByteBuf packet) {
        channel.write(packet, channel.voidPromise());
    }

    public ChannelFuture writeAndFlush(ByteBuf packet) {
        return channel.writeAndFlush(packet);
    }

    public void flush() {
        channel.flush();
    }

    public boolean isWritable() {
        return channel.isWritable();
    }

    public boolean isActive() {
        return channel.isActive();
    }

    public void close() {
        channel.close();
    }

    /**
     * Ends an authenticated connection the way a client does: COM_QUIT, then close. A bare close makes
     * the server count an aborted client (MariaDB logs "Aborted connection ... Got an error reading
     * communication packets" for each one at its default log_warnings).
     */
    public void quit() {
        if (channel.isActive()) {
            ByteBuf quit = channel.alloc().ioBuffer(5);
            quit.writeMediumLE(1).writeByte(0).writeByte(Command.COM_QUIT.code());
            channel.writeAndFlush(quit, channel.voidPromise());
        }
        channel.close();
    }

    public Channel channel() {
        return channel;
    }

    /** The backend's own id for this connection (from its greeting), as SHOW PROCESSLIST shows it. */
    public long threadId() {
        return threadId;
    }

    public void setThreadId(long threadId) {
        this.threadId = threadId;
    }

    /** The backend's address as "host:port", the key the router and observer use. */
    public String address() {
        return address;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        listener.onBackendPacket(this, (ByteBuf) msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        listener.onBackendReadComplete(this);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        listener.onBackendWritabilityChanged(this);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        notifyClosed(null);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        notifyClosed(cause);
        ctx.close();
    }

    private void notifyClosed(Throwable cause) {
        if (!closedNotified) {
            closedNotified = true;
            listener.onBackendClosed(this, cause);
        }
    }

    @Override
    public String toString() {
        return "backend " + address;
    }
}
