package io.tiproxy.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.tiproxy.proxy.client.ClientConnection;
import io.tiproxy.proxy.client.SessionContext;
import io.tiproxy.proxy.net.PacketDecoder;
import io.tiproxy.proxy.net.ProxyProtocolDecoder;
import io.tiproxy.proxy.net.TrustedNetworks;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * The SQL listener: accepts client connections and gives each a {@link ClientConnection}. A session's
 * client channel and backend channel share one event loop, so a session needs no locks.
 */
public final class SqlListener implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqlListener.class);

    private final InetSocketAddress bind;
    private final SessionContext context;
    private final EventLoopGroup bossGroup;
    private final EventLoopGroup workerGroup;
    private Channel serverChannel;
    private volatile TrustedNetworks trusted;

    public SqlListener(InetSocketAddress bind, SessionContext context, EventLoopGroup bossGroup, EventLoopGroup workerGroup) {
        this.bind = bind;
        this.context = context;
        this.bossGroup = bossGroup;
        this.workerGroup = workerGroup;
    }

    public void start() throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap()
                .group(bossGroup, workerGroup)
                .channel(context.transport().serverChannelClass())
                .option(ChannelOption.SO_BACKLOG, 1024)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.SO_KEEPALIVE, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        PacketDecoder decoder = new PacketDecoder(ClientConnection.MAX_HANDSHAKE_PAYLOAD);
                        decoder.setSingleDecode(true);
                        ProxySettings settings = context.settings();
                        if (settings.acceptProxyProtocol()) {
                            ch.pipeline().addLast("proxy-header", new ProxyProtocolDecoder(
                                    trustedNetworks(settings.proxyProtocolNetworks())));
                        }
                        ch.pipeline().addLast("framer", decoder);
                        ch.pipeline().addLast("session", new ClientConnection(context, decoder));
                    }
                });
        try {
            serverChannel = b.bind(bind).sync().channel();
        } catch (Exception e) {
            throw new IllegalStateException("cannot listen on " + bind + ": " + e.getMessage(), e);
        }
        log.info("SQL listener on {} ({})", serverChannel.localAddress(), context.transport().name());
    }

    /** The parsed {@code proxy.proxy-protocol-networks}, parsed again only when a reload changed them. */
    private TrustedNetworks trustedNetworks(List<String> entries) {
        TrustedNetworks current = trusted;
        if (current == null || !current.entries().equals(entries)) {
            current = TrustedNetworks.parse(entries);
            trusted = current;
        }
        return current;
    }

    public InetSocketAddress localAddress() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    /** Stops accepting; existing sessions are left to the caller. */
    public void stopAccepting() {
        if (serverChannel != null) {
            serverChannel.close().syncUninterruptibly();
        }
    }

    @Override
    public void close() {
        stopAccepting();
    }
}
