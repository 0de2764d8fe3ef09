package io.tiproxy.server.api;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import io.netty.handler.codec.http.HttpMethod;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.server.api.ApiAuth.Credentials;
import io.tiproxy.server.api.HealthRoute.HealthStatus;
import io.tiproxy.testkit.LogCapture;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Protected and open routes over real HTTP. */
class ApiAuthTest {
    private static final String PASSWORD = "adm1n-Pa55word";
    private static final String TOKEN = "tok-0123456789abcdef";

    private final AtomicReference<Credentials> credentials = new AtomicReference<>(Credentials.NONE);
    private final HttpClient client = HttpClient.newHttpClient();
    private HttpApiServer server;

    @BeforeEach
    void start() throws Exception {
        ApiAuth auth = new ApiAuth(credentials::get);
        server = new HttpApiServer(new HostPort("127.0.0.1", 0), List.of(
                new HealthRoute(() -> HealthStatus.ok("abc")),
                auth.protect(new SimpleRoute(HttpMethod.GET, "/api/sessions", request -> ApiResponse.ok(List.of())))));
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> get(String path, String authorization) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.localAddress().getPort() + path));
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void withoutCredentialsConfiguredEveryRouteIsOpen() throws Exception {
        assertThat(get("/api/sessions", null).statusCode()).isEqualTo(200);
    }

    @Test
    void basicAuthGuardsTheAdminRouteButNotHealth() throws Exception {
        credentials.set(new Credentials("admin", PASSWORD, ""));

        HttpResponse<String> none = get("/api/sessions", null);
        assertThat(none.statusCode()).isEqualTo(401);
        assertThat(none.headers().firstValue("www-authenticate")).hasValue("Basic realm=\"tiproxy\", charset=\"UTF-8\"");
        assertThat(none.headers().firstValue("content-type")).hasValue("application/json; charset=utf-8");
        assertThat(none.body()).startsWith("{\"error\":\"authentication required (HTTP Basic");

        assertThat(get("/api/sessions", basic("admin", "wrong")).statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", basic("root", PASSWORD)).statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", "Bearer " + PASSWORD).statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", "Basic %%%not-base64").statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", basic("admin", PASSWORD)).statusCode()).isEqualTo(200);
        assertThat(get("/api/debug/health", null).statusCode()).isEqualTo(200);
    }

    @Test
    void aBearerTokenOrBasicAuthWhenBothAreConfigured() throws Exception {
        credentials.set(new Credentials("admin", PASSWORD, TOKEN));

        HttpResponse<String> none = get("/api/sessions", null);
        assertThat(none.headers().firstValue("www-authenticate"))
                .hasValue("Basic realm=\"tiproxy\", charset=\"UTF-8\", Bearer realm=\"tiproxy\"");
        assertThat(get("/api/sessions", "Bearer " + TOKEN).statusCode()).isEqualTo(200);
        assertThat(get("/api/sessions", "bearer " + TOKEN).statusCode()).isEqualTo(200);
        assertThat(get("/api/sessions", "Bearer " + TOKEN + "x").statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", basic("admin", PASSWORD)).statusCode()).isEqualTo(200);
    }

    @Test
    void newCredentialsApplyToTheNextRequest() throws Exception {
        credentials.set(new Credentials("", "", TOKEN));
        assertThat(get("/api/sessions", "Bearer " + TOKEN).statusCode()).isEqualTo(200);

        credentials.set(new Credentials("", "", "rotated-token-987"));

        assertThat(get("/api/sessions", "Bearer " + TOKEN).statusCode()).isEqualTo(401);
        assertThat(get("/api/sessions", "Bearer rotated-token-987").statusCode()).isEqualTo(200);
    }

    @Test
    void refusalsAreLoggedWithoutTheSecrets() throws Exception {
        credentials.set(new Credentials("admin", PASSWORD, TOKEN));
        try (LogCapture logs = LogCapture.of(ApiAuth.class)) {
            get("/api/sessions", basic("admin", PASSWORD + "-typo"));
            get("/api/sessions", "Bearer " + TOKEN + "-typo");

            assertThat(logs.messages(Level.WARN)).hasSize(2)
                    .allSatisfy(m -> assertThat(m).contains("/api/sessions refused: wrong credentials")
                            .doesNotContain(PASSWORD).doesNotContain(TOKEN));
        }
        assertThat(credentials.get().toString()).doesNotContain(PASSWORD).doesNotContain(TOKEN);
    }

    @Test
    void aUserNeedsAPassword() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new Credentials("admin", "", ""))
                .hasMessage("set both user and password, or neither");
    }

    @Test
    void headersReachRoutesCaseInsensitively() throws Exception {
        ApiRequest request = new ApiRequest(HttpMethod.GET, "/", Map.of(), Map.of(), new byte[0],
                Map.of("X-Thing", "1"));
        assertThat(request.header("x-thing")).hasValue("1");
        assertThat(request.header("X-THING")).hasValue("1");
        assertThat(request.header("other")).isEmpty();
    }
}
