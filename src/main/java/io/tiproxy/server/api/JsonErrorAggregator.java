package io.tiproxy.server.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.FullHttpMessage;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;

import java.util.concurrent.TimeUnit;

/**
 * Netty's aggregator, but a body over the limit gets the API's JSON error (413, {@code Connection:
 * close}) and the connection is closed only once the rest of that body has arrived (the aggregator
 * discards it), or after {@link #LINGER_MILLIS} if it never does. Closing while the client is still
 * uploading would leave unread bytes behind, and the kernel answers those with a reset that can
 * destroy the 413 before the client reads it.
 *
 * <p>It sits before {@code HttpServerKeepAliveHandler} in the pipeline, so its own 413 does not pass
 * that handler, which would close the connection as soon as the response is written.
 */
final class JsonErrorAggregator extends HttpObjectAggregator {
    static final long LINGER_MILLIS = 2000;
    private final int maxContentLength;
    /** A 413 was sent for a request whose body is still arriving: close once its last part is in. */
    private boolean closeAfterBody;

    JsonErrorAggregator(int maxContentLength) {
        super(maxContentLength);
        this.maxContentLength = maxContentLength;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        boolean lastOfRejected = closeAfterBody && msg instanceof LastHttpContent;
        super.channelRead(ctx, msg);
        if (lastOfRejected) {
            closeAfterBody = false;
            ctx.close();
        }
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
        if (!(oversized instanceof HttpRequest)) {
            super.handleOversizedMessage(ctx, oversized);
            return;
        }
        ApiResponse response = ApiResponse.error(413, "request body is larger than " + maxContentLength + " bytes");
        boolean bodyComplete = oversized instanceof FullHttpMessage;
        closeAfterBody = !bodyComplete;
        ctx.writeAndFlush(ApiRequestHandler.toHttpResponse(response, true)).addListener(f -> {
            if (bodyComplete || !f.isSuccess()) {
                ctx.close();
            } else {
                ctx.executor().schedule(() -> ctx.close(), LINGER_MILLIS, TimeUnit.MILLISECONDS);
            }
        });
    }
}
