package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;

/**
 * TiDB's status port: {@code GET http://<ip>:<status_port>/status}. 200 means serving; anything else
 * means not (TiDB answers HTTP 500 with an empty body from the start of a graceful shutdown, while its
 * SQL port still accepts for {@code graceful-wait-before-shutdown}: the moment to drain). Backends
 * without a status port (0) pass.
 */
public final class TiDbStatusProbe implements HealthChecker {
    private final HttpClient http;

    /** @param executor runs the HTTP client's callbacks */
    public TiDbStatusProbe(Executor executor) {
        this.http = HttpClient.newBuilder()
                .executor(executor)
                .version(HttpClient.Version.HTTP_1_1) // TiDB's Go status server speaks no h2c
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(5))
                .build();
    }

    @Override
    public CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout) {
        if (!backend.hasStatusPort()) {
            return CompletableFuture.completedFuture(HealthResult.ok());
        }
        String host = backend.host().contains(":") ? "[" + backend.host() + "]" : backend.host();
        URI uri = URI.create("http://" + host + ":" + backend.statusPort() + "/status");
        HttpRequest request = HttpRequest.newBuilder(uri).timeout(timeout).GET().build();
        try {
            return http.sendAsync(request, HttpResponse.BodyHandlers.discarding())
                    .orTimeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                    .handle((response, error) -> {
                        if (error != null) {
                            Throwable cause = error instanceof CompletionException && error.getCause() != null
                                    ? error.getCause() : error;
                            return HealthResult.failed("status port " + uri + ": " + cause.getClass().getSimpleName()
                                    + (cause.getMessage() == null ? "" : ": " + cause.getMessage()));
                        }
                        if (response.statusCode() != 200) {
                            return HealthResult.failed("status port " + uri + " answered HTTP " + response.statusCode());
                        }
                        return HealthResult.ok();
                    });
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(HealthResult.failed("status port " + uri + ": " + e));
        }
    }
}
