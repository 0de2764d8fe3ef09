package io.tiproxy.tidb;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The status port of a {@link SimulatedTiDb} (TIDB-FACTS "Status port"): {@code GET /status} answers 200
 * with TiDB's JSON, or HTTP 500 with an empty body from the start of a graceful shutdown;
 * {@code GET /config} answers the config JSON, whose {@code security.session-token-signing-cert} is empty
 * while no signing certificate is loaded.
 */
final class SimulatedTiDbStatusServer {
    private final SimulatedTiDb tidb;
    private final HttpServer http;
    private final AtomicInteger configRequests = new AtomicInteger();
    private final AtomicBoolean stopped = new AtomicBoolean();

    /** Serves on the loopback {@code port} (0: any free one). */
    SimulatedTiDbStatusServer(SimulatedTiDb tidb, int port) throws IOException {
        this.tidb = tidb;
        this.http = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        http.createContext("/status", this::onStatus);
        http.createContext("/config", this::onConfig);
        http.start();
    }

    int port() {
        return http.getAddress().getPort();
    }

    int configRequests() {
        return configRequests.get();
    }

    /** Closes the port; idempotent. */
    void stop() {
        if (stopped.compareAndSet(false, true)) {
            http.stop(0);
        }
    }

    private void onStatus(HttpExchange ex) throws IOException {
        if (tidb.isShuttingDown()) {
            ex.sendResponseHeaders(500, -1);
            ex.close();
            return;
        }
        reply(ex, "{\"connections\":" + tidb.connections() + ",\"version\":\"" + SimulatedTiDb.VERSION
                + "\",\"git_hash\":\"simulated\",\"status\":{\"init_stats_percentage\":100}}");
    }

    private void onConfig(HttpExchange ex) throws IOException {
        configRequests.incrementAndGet();
        SimulatedTiDbSigningCert cert = tidb.tokens().latestCert();
        String certPath = cert == null ? "" : cert.certFile().toString();
        String keyPath = cert == null ? "" : cert.keyFile().toString();
        reply(ex, "{\"host\":\"127.0.0.1\",\"port\":" + tidb.port() + ",\"graceful-wait-before-shutdown\":0,"
                + "\"security\":{\"ssl-ca\":\"\",\"ssl-cert\":\"\",\"ssl-key\":\"\",\"session-token-signing-cert\":\""
                + jsonEscape(certPath) + "\",\"session-token-signing-key\":\"" + jsonEscape(keyPath)
                + "\",\"auto-tls\":false},\"status\":{\"status-port\":" + port() + "}}");
    }

    private static String jsonEscape(String s) {
        return s.replace("\\", "\\\\").replace("\"", "\\\"");
    }

    private static void reply(HttpExchange ex, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(200, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
