package io.tiproxy.server.api;

import io.netty.handler.codec.http.HttpMethod;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * {@code GET /metrics}: the Prometheus text exposition (format 0.0.4), as Prometheus scrapes it.
 * The text comes from a supplier (the composition root passes {@code ProxyMetrics::scrape}), so this
 * package does not depend on the metrics library.
 */
public final class MetricsRoute implements ApiRoute {
    /** The content type Prometheus expects for text format 0.0.4. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final Supplier<String> scrape;

    public MetricsRoute(Supplier<String> scrape) {
        this.scrape = Objects.requireNonNull(scrape, "scrape");
    }

    @Override
    public HttpMethod method() {
        return HttpMethod.GET;
    }

    @Override
    public String pattern() {
        return "/metrics";
    }

    @Override
    public ApiResponse handle(ApiRequest request) {
        return new ApiResponse(200, CONTENT_TYPE, scrape.get().getBytes(StandardCharsets.UTF_8));
    }
}
