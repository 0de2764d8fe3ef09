package io.tiproxy.balance.observer;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A <em>simulation</em> of TiDB's status port (TiDB cannot run here), behaving as TIDB-FACTS.md
 * ("Status port") says: {@code GET /status} answers 200 with
 * {@code {"connections":N,"version":"8.0.11-TiDB-v8.5.0","git_hash":"...","status":{"init_stats_percentage":N}}};
 * from the start of a graceful shutdown it answers HTTP 500 with an empty body.
 */
public final class SimulatedTiDbStatusPort implements AutoCloseable {
    static final String STATUS_JSON =
            "{\"connections\":0,\"version\":\"8.0.11-TiDB-v8.5.0\",\"git_hash\":\"x\",\"status\":{\"init_stats_percentage\":100}}";

    private final HttpServer server;
    private final AtomicInteger requests = new AtomicInteger();
    private volatile boolean shuttingDown;

    public SimulatedTiDbStatusPort() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 16);
        server.createContext("/status", this::status);
        server.start();
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public int requests() {
        return requests.get();
    }

    /** TiDB got SIGTERM with graceful-wait-before-shutdown: /status turns 500, the SQL port still accepts. */
    public void beginGracefulShutdown() {
        shuttingDown = true;
    }

    public void cancelShutdown() {
        shuttingDown = false;
    }

    private void status(HttpExchange exchange) throws IOException {
        requests.incrementAndGet();
        try (exchange) {
            if (shuttingDown) {
                exchange.sendResponseHeaders(500, -1); // empty body
                return;
            }
            byte[] body = STATUS_JSON.getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
