package io.tiproxy.server.api;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;

/**
 * Netty's aggregator, but a body over the limit gets the API's JSON error (413) and the connection
 * is closed a moment later: the aggregator discards the rest of the body meanwhile (a lingering close),
 * so a client still uploading reads the 413 instead of a connection reset.
 */
final class JsonErrorAggregator extends HttpObjectAggregator {
    private static final long LINGER_MILLIS = 2000;
    private final int maxContentLength;

    JsonErrorAggregator(int maxContentLength) {
        super(maxContentLength);
        this.maxContentLength = maxContentLength;
    }

    @Override
    protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) throws Exception {
        if (!(oversized instanceof HttpRequest)) {
            super.handleOversizedMessage(ctx, oversized);
            return;
        }
        ApiResponse response = ApiResponse.error(413, "request body is larger than " + maxContentLength + " bytes");
        ctx.writeAndFlush(ApiRequestHandler.toHttpResponse(response, true)).addListener(f ->
                ctx.executor().schedule(() -> ctx.close(), LINGER_MILLIS, java.util.concurrent.TimeUnit.MILLISECONDS));
    }
}
