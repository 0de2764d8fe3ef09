package io.tiproxy.server.api;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.timeout.IdleStateEvent;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Answers each aggregated request through the {@link RouteTable}; every error is JSON. */
@Sharable
final class ApiRequestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger log = LoggerFactory.getLogger(ApiRequestHandler.class);

    private final RouteTable routes;

    ApiRequestHandler(RouteTable routes) {
        this.routes = routes;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
        if (request.decoderResult().isFailure()) {
            Throwable cause = request.decoderResult().cause();
            log.debug("malformed HTTP request from {}: {}", ctx.channel().remoteAddress(), cause.toString());
            ApiResponse response = ApiResponse.error(statusOfDecodeFailure(cause), "malformed HTTP request");
            ctx.writeAndFlush(toHttpResponse(response, true)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        FullHttpResponse response = answer(request);
        ctx.writeAndFlush(response);
    }

    private FullHttpResponse answer(FullHttpRequest request) {
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        RouteTable.Lookup lookup;
        Map<String, List<String>> query;
        try {
            lookup = routes.lookup(request.method(), uri.rawPath());
            query = uri.parameters();
        } catch (IllegalArgumentException e) {
            return toHttpResponse(ApiResponse.error(400, "malformed URL: " + e.getMessage()), false);
        }
        if (lookup instanceof RouteTable.Found found) {
            ApiRequest apiRequest = new ApiRequest(request.method(), uri.path(), found.pathParams(), query,
                    ByteBufUtil.getBytes(request.content()), headersOf(request));
            return toHttpResponse(invoke(found.route(), apiRequest), false);
        }
        if (lookup instanceof RouteTable.MethodNotAllowed notAllowed) {
            FullHttpResponse response = toHttpResponse(ApiResponse.error(405,
                    request.method() + " is not allowed on " + uri.path()), false);
            response.headers().set(HttpHeaderNames.ALLOW, notAllowed.allowed().stream()
                    .map(Object::toString).collect(Collectors.joining(", ")));
            return response;
        }
        return toHttpResponse(ApiResponse.error(404, "no API at " + uri.path()), false);
    }

    /** The request's headers by name, first value of each. */
    private static Map<String, String> headersOf(FullHttpRequest request) {
        Map<String, String> headers = new java.util.HashMap<>();
        request.headers().forEach(header -> headers.putIfAbsent(
                header.getKey().toLowerCase(java.util.Locale.ROOT), header.getValue()));
        return headers;
    }

    private static ApiResponse invoke(ApiRoute route, ApiRequest request) {
        try {
            return route.handle(request);
        } catch (ApiException e) {
            return ApiResponse.error(e.status(), e.getMessage());
        } catch (RuntimeException e) {
            log.error("API route {} {} failed on {}", route.method(), route.pattern(), request.path(), e);
            return ApiResponse.error(500, "internal error; see the proxy's log");
        }
    }

    private static int statusOfDecodeFailure(Throwable cause) {
        if (cause instanceof TooLongHttpLineException) {
            return HttpResponseStatus.REQUEST_URI_TOO_LONG.code();
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE.code();
        }
        return HttpResponseStatus.BAD_REQUEST.code();
    }

    /** The Netty response for an {@link ApiResponse}; {@code close} adds {@code Connection: close}. */
    static FullHttpResponse toHttpResponse(ApiResponse api, boolean close) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                HttpResponseStatus.valueOf(api.status()), Unpooled.wrappedBuffer(api.body()));
        api.headers().forEach(response.headers()::set);
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, api.contentType())
                .setInt(HttpHeaderNames.CONTENT_LENGTH, api.body().length);
        if (close) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return response;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof IdleStateEvent) {
            ctx.close();
        } else {
            super.userEventTriggered(ctx, event);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.debug("HTTP API connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
