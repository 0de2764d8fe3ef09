package io.tiproxy.server.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.codec.http.HttpMethod;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.server.api.HealthRoute.HealthStatus;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class HttpApiServerTest {
    private final AtomicReference<HealthStatus> health = new AtomicReference<>(HealthStatus.ok("abc123"));
    private final HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private HttpApiServer server;
    private String base;

    /** A route built from a lambda, for tests. */
    private record TestRoute(HttpMethod method, String pattern, Handler handler) implements ApiRoute {
        interface Handler {
            ApiResponse handle(ApiRequest request) throws ApiException;
        }

        @Override
        public ApiResponse handle(ApiRequest request) throws ApiException {
            return handler.handle(request);
        }
    }

    /** A JSON request body, as a route would read it. */
    record DrainOrder(String backend, int timeoutSeconds) {
    }

    @BeforeEach
    void startServer() throws Exception {
        server = new HttpApiServer(new HostPort("127.0.0.1", 0), List.of(
                new HealthRoute(health::get),
                new TestRoute(HttpMethod.POST, "/api/backends/{addr}/drain",
                        request -> ApiResponse.ok(Map.of("drained", request.pathParam("addr"),
                                "reason", request.queryParam("reason").orElse("")))),
                new TestRoute(HttpMethod.GET, "/api/backends/{addr}",
                        request -> ApiResponse.ok(Map.of("addr", request.pathParam("addr")))),
                new TestRoute(HttpMethod.GET, "/api/backends/summary",
                        request -> ApiResponse.text(200, "summary")),
                new TestRoute(HttpMethod.PUT, "/api/echo",
                        request -> ApiResponse.text(200, request.bodyAsString())),
                new TestRoute(HttpMethod.POST, "/api/json",
                        request -> ApiResponse.ok(request.bodyAsJson(DrainOrder.class))),
                new TestRoute(HttpMethod.GET, "/api/refuse", request -> {
                    throw new ApiException(409, "backend 127.0.0.1:1 is already draining");
                }),
                new TestRoute(HttpMethod.GET, "/api/crash", request -> {
                    throw new IllegalStateException("secret internals");
                })));
        server.start();
        base = "http://127.0.0.1:" + server.localAddress().getPort();
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    private HttpResponse<String> send(String method, String path, String body) throws Exception {
        HttpRequest.BodyPublisher publisher = body == null
                ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body);
        HttpRequest request = HttpRequest.newBuilder(URI.create(base + path)).method(method, publisher)
                .timeout(Duration.ofSeconds(30)).build(); // generous: CI machines are shared and loaded
        return client.send(request, HttpResponse.BodyHandlers.ofString());
    }

    private HttpResponse<String> get(String path) throws Exception {
        return send("GET", path, null);
    }

    @Test
    void healthIsOkWithTheConfigChecksum() throws Exception {
        HttpResponse<String> response = get("/api/debug/health");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json; charset=utf-8");
        assertThat(response.body()).isEqualTo("{\"status\":\"ok\",\"config_checksum\":\"abc123\"}");
    }

    @Test
    void unhealthyProxyAnswers503WithTheReason() throws Exception {
        health.set(HealthStatus.unhealthy("shutting down", "abc123"));
        HttpResponse<String> response = get("/api/debug/health");
        assertThat(response.statusCode()).isEqualTo(503);
        assertThat(response.body())
                .isEqualTo("{\"status\":\"unhealthy\",\"reason\":\"shutting down\",\"config_checksum\":\"abc123\"}");
    }

    @Test
    void pathParametersAreDecodedAndQueryIsPassed() throws Exception {
        HttpResponse<String> response = send("POST", "/api/backends/%5B::1%5D:4000/drain?reason=scale+in", "");
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).contains("\"drained\":\"[::1]:4000\"", "\"reason\":\"scale in\"");

        assertThat(get("/api/backends/127.0.0.1:13306").body()).isEqualTo("{\"addr\":\"127.0.0.1:13306\"}");
        assertThat(get("/api/backends/a+b").body()).isEqualTo("{\"addr\":\"a+b\"}");
    }

    @Test
    void literalSegmentsWinOverParameters() throws Exception {
        assertThat(get("/api/backends/summary").body()).isEqualTo("summary");
        assertThat(get("/api/backends/summary/").body()).isEqualTo("summary");
    }

    @Test
    void requestBodyReachesTheRoute() throws Exception {
        HttpResponse<String> response = send("PUT", "/api/echo", "proxy:\n  max-connections: 5\n");
        assertThat(response.body()).isEqualTo("proxy:\n  max-connections: 5\n");
        assertThat(response.headers().firstValue("content-type")).hasValue("text/plain; charset=utf-8");
    }

    @Test
    void jsonBodiesAreReadIntoRecordsAndBadJsonIs400() throws Exception {
        HttpResponse<String> ok = send("POST", "/api/json", "{\"backend\":\"a:1\",\"timeoutSeconds\":5}");
        assertThat(ok.body()).isEqualTo("{\"backend\":\"a:1\",\"timeoutSeconds\":5}");

        HttpResponse<String> bad = send("POST", "/api/json", "{\"backend\":");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(bad.body()).startsWith("{\"error\":\"request body is not valid JSON");
        assertThat(send("POST", "/api/json", "").statusCode()).isEqualTo(400);
    }

    @Test
    void unknownPathIs404AsJson() throws Exception {
        HttpResponse<String> response = get("/api/nothing/here");
        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.body()).isEqualTo("{\"error\":\"no API at /api/nothing/here\"}");
    }

    @Test
    void wrongMethodOnAKnownPathIs405WithAllow() throws Exception {
        HttpResponse<String> response = send("DELETE", "/api/debug/health", null);
        assertThat(response.statusCode()).isEqualTo(405);
        assertThat(response.headers().firstValue("allow")).hasValue("GET");
        assertThat(response.body()).isEqualTo("{\"error\":\"DELETE is not allowed on /api/debug/health\"}");
    }

    @Test
    void apiExceptionGivesItsStatusAndMessage() throws Exception {
        HttpResponse<String> response = get("/api/refuse");
        assertThat(response.statusCode()).isEqualTo(409);
        assertThat(response.body()).isEqualTo("{\"error\":\"backend 127.0.0.1:1 is already draining\"}");
    }

    @Test
    void unexpectedExceptionIs500WithoutInternals() throws Exception {
        HttpResponse<String> response = get("/api/crash");
        assertThat(response.statusCode()).isEqualTo(500);
        assertThat(response.body()).startsWith("{\"error\":\"internal error").doesNotContain("secret");
        assertThat(get("/api/debug/health").statusCode()).isEqualTo(200);
    }

    @Test
    void oversizedBodyIs413AndServerKeepsServing() throws Exception {
        String big = "x".repeat(HttpApiServer.MAX_BODY_BYTES + 1);
        HttpResponse<String> response = send("PUT", "/api/echo", big);
        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(response.body()).startsWith("{\"error\":\"request body is larger than");

        String justFits = "y".repeat(HttpApiServer.MAX_BODY_BYTES);
        assertThat(send("PUT", "/api/echo", justFits).body()).hasSize(HttpApiServer.MAX_BODY_BYTES);
        assertThat(get("/api/debug/health").statusCode()).isEqualTo(200);
    }

    @Test
    void aClientStillUploadingAnOversizedBodyReadsThe413AndAnOrderlyClose() throws Exception {
        InetSocketAddress address = server.localAddress();
        try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            int length = HttpApiServer.MAX_BODY_BYTES + 1;
            out.write(("PUT /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            byte[] part = new byte[length / 4];
            out.write(part);
            out.flush();
            Thread.sleep(300); // the 413 is out by now; the server must not close while the body keeps coming
            out.write(part);
            out.write(part);
            out.write(new byte[length - 3 * part.length]);
            out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                    StandardCharsets.ISO_8859_1));
            assertThat(in.readLine()).isEqualTo("HTTP/1.1 413 Request Entity Too Large");
            int contentLength = readHeadersForContentLength(in);
            char[] body = new char[contentLength];
            assertThat(in.read(body)).isEqualTo(contentLength);
            assertThat(new String(body)).startsWith("{\"error\":\"request body is larger than");
            long start = System.nanoTime();
            assertThat(in.read()).as("closed, without a reset").isEqualTo(-1);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start))
                    .as("closed once the body was in, not after the linger").isLessThan(JsonErrorAggregator.LINGER_MILLIS);
        }
        assertThat(get("/api/debug/health").statusCode()).isEqualTo(200);
    }

    @Test
    void malformedRequestIs400AndServerKeepsServing() throws Exception {
        String answer = rawExchange("THIS IS NOT HTTP\r\n\r\n");
        assertThat(answer).startsWith("HTTP/1.1 400").contains("{\"error\":\"malformed HTTP request\"}");

        assertThat(rawExchange("GET /api/backends/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
                .startsWith("HTTP/1.1 400").contains("malformed URL");
        assertThat(get("/api/debug/health").statusCode()).isEqualTo(200);
    }

    @Test
    void keepAliveServesManyRequestsOnOneConnection() throws Exception {
        InetSocketAddress address = server.localAddress();
        try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(5000);
            OutputStream out = socket.getOutputStream();
            BufferedReader in = new BufferedReader(new InputStreamReader(socket.getInputStream(),
                    StandardCharsets.ISO_8859_1));
            for (int i = 0; i < 3; i++) {
                out.write("GET /api/debug/health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                assertThat(in.readLine()).isEqualTo("HTTP/1.1 200 OK");
                int contentLength = readHeadersForContentLength(in);
                char[] body = new char[contentLength];
                assertThat(in.read(body)).isEqualTo(contentLength);
                assertThat(new String(body)).contains("\"status\":\"ok\"");
            }
        }
    }

    private static int readHeadersForContentLength(BufferedReader in) throws IOException {
        int contentLength = -1;
        for (String line = in.readLine(); !line.isEmpty(); line = in.readLine()) {
            if (line.toLowerCase().startsWith("content-length:")) {
                contentLength = Integer.parseInt(line.substring("content-length:".length()).strip());
            }
        }
        return contentLength;
    }

    /** Sends raw bytes and reads until the server closes the connection. */
    private String rawExchange(String request) throws IOException {
        InetSocketAddress address = server.localAddress();
        try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
            socket.setSoTimeout(5000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
            socket.getOutputStream().flush();
            return new String(socket.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void portInUseIsAClearError() {
        HostPort taken = new HostPort("127.0.0.1", server.localAddress().getPort());
        try (HttpApiServer second = new HttpApiServer(taken, List.of())) {
            assertThatThrownBy(second::start).isInstanceOf(IllegalStateException.class)
                    .hasMessageStartingWith("HTTP API cannot listen on " + taken + ": ")
                    .hasMessageContaining("in use");
        }
    }

    @Test
    void duplicateRoutesAreRefusedAtConstruction() {
        ApiRoute a = new TestRoute(HttpMethod.GET, "/api/x/{a}", request -> ApiResponse.ok("a"));
        ApiRoute b = new TestRoute(HttpMethod.GET, "/api/x/{b}", request -> ApiResponse.ok("b"));
        assertThatThrownBy(() -> new HttpApiServer(new HostPort("127.0.0.1", 0), List.of(a, b)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("/api/x/{b}");
    }
}
