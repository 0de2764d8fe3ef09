package io.tiproxy.server.api;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerKeepAliveHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.tiproxy.manager.config.HostPort;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP/JSON API listener: HTTP/1.1 with keep-alive, request bodies up to 1 MiB, one event-loop
 * thread of its own (epoll where available, else NIO). Routes are fixed at construction.
 *
 * <p>TLS ({@code security.server-http-tls}): the TLS context is asked for on every accepted connection,
 * so a reloaded certificate serves the next connection without a restart. While a context is set the
 * listener speaks HTTPS only: a plain-HTTP request fails its TLS handshake and is closed, rather than
 * being served in clear next to an operator who configured TLS.
 *
 * <p>Lifecycle: {@code NEW -> RUNNING} by {@link #start()}; {@code NEW|RUNNING -> CLOSED} by
 * {@link #close()}. A server is started at most once.
 */
public final class HttpApiServer implements AutoCloseable {
    static final int MAX_BODY_BYTES = 1024 * 1024;
    private static final Duration IDLE_CONNECTION_TIMEOUT = Duration.ofMinutes(2);
    private static final Logger log = LoggerFactory.getLogger(HttpApiServer.class);

    private enum State { NEW, RUNNING, CLOSED }

    private final HostPort bind;
    private final ApiRequestHandler requestHandler;
    private final Supplier<SslContext> tls;
    private State state = State.NEW;
    private EventLoopGroup group;
    private Channel serverChannel;

    /**
     * @param bind   address to listen on; port 0 picks a free port (see {@link #localAddress()})
     * @param routes the endpoints; two routes with the same method and pattern shape are an error
     */
    public HttpApiServer(HostPort bind, List<ApiRoute> routes) {
        this(bind, routes, () -> null);
    }

    /**
     * @param tls the TLS context for the next connection, or null for plain HTTP; asked once per connection
     */
    public HttpApiServer(HostPort bind, List<ApiRoute> routes, Supplier<SslContext> tls) {
        this.bind = bind;
        this.requestHandler = new ApiRequestHandler(new RouteTable(List.copyOf(routes)));
        this.tls = tls;
    }

    /**
     * Binds and starts serving.
     *
     * @throws IllegalStateException when the address cannot be bound (e.g. the port is taken),
     *                               naming the address and the reason; or when already started
     */
    public synchronized void start() throws InterruptedException {
        if (state != State.NEW) {
            throw new IllegalStateException("HTTP API server is " + state + "; it starts only once");
        }
        boolean epoll = Epoll.isAvailable();
        group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("tiproxy-api", true),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Class<? extends ServerChannel> channelType =
                epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(group)
                .channel(channelType)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel channel) {
                        SslContext context = tls.get();
                        if (context != null) {
                            channel.pipeline().addLast(context.newHandler(channel.alloc()));
                        }
                        channel.pipeline().addLast(
                                new IdleStateHandler(0, 0, IDLE_CONNECTION_TIMEOUT.toSeconds(), TimeUnit.SECONDS),
                                new HttpServerCodec(),
                                new JsonErrorAggregator(MAX_BODY_BYTES), // before keep-alive: see its Javadoc
                                new HttpServerKeepAliveHandler(),
                                requestHandler);
                    }
                });
        ChannelFuture bound = bootstrap.bind(bind.host(), bind.port()).await();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            state = State.CLOSED;
            Throwable cause = bound.cause();
            throw new IllegalStateException("HTTP API cannot listen on " + bind + ": " + cause.getMessage(), cause);
        }
        serverChannel = bound.channel();
        state = State.RUNNING;
        log.info("HTTP API listening on {}", serverChannel.localAddress());
    }

    /** The bound address (with the real port when started on port 0). */
    public synchronized InetSocketAddress localAddress() {
        if (state != State.RUNNING) {
            throw new IllegalStateException("HTTP API server is " + state);
        }
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Stops listening and closes every API connection; waits up to 2 s for the thread to end. */
    @Override
    public synchronized void close() {
        State previous = state;
        state = State.CLOSED;
        if (previous != State.RUNNING) {
            return;
        }
        serverChannel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        log.info("HTTP API stopped");
    }
}
