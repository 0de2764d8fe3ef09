package io.tiproxy.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.ConfigReloader;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.server.api.HttpApiServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The config resource over real HTTP. */
class ConfigRoutesTest {
    private static final String CONFIG = """
            proxy:
              addr: "127.0.0.1:6000"
              max-connections: 10
            backend:
              service-user: "svc"
              service-password: "s3cret-pw"
            """;
    private static final ObjectMapper JSON = new ObjectMapper();

    private final List<TiProxyConfig> appliedConfigs = new CopyOnWriteArrayList<>();
    private final HttpClient client = HttpClient.newHttpClient();
    private ConfigReloader reloader;
    private HttpApiServer server;
    private String base;

    @BeforeEach
    void start() throws Exception {
        reloader = new ConfigReloader(ConfigLoader.parse(CONFIG, "test"), (previous, next) -> appliedConfigs.add(next));
        server = new HttpApiServer(new HostPort("127.0.0.1", 0), ConfigRoutes.create(reloader));
        server.start();
        base = "http://127.0.0.1:" + server.localAddress().getPort() + "/api/admin/config";
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> send(String method, String query, String body) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(base + query))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
                .build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void getAnswersJsonWithSecretsMasked() throws Exception {
        HttpResponse<String> response = send("GET", "", null);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("content-type")).hasValue("application/json; charset=utf-8");
        JsonNode json = JSON.readTree(response.body());
        assertThat(json.at("/proxy/max-connections").asInt()).isEqualTo(10);
        assertThat(json.at("/backend/service-password").asText()).isEqualTo("******");
        assertThat(response.body()).doesNotContain("s3cret-pw");
    }

    @Test
    void yamlFromGetGoesBackThroughPutUnchangedAndKeepsTheSecret() throws Exception {
        HttpResponse<String> yaml = send("GET", "?format=yaml", null);
        assertThat(yaml.headers().firstValue("content-type")).hasValue("application/yaml; charset=utf-8");

        HttpResponse<String> put = send("PUT", "", yaml.body());

        assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        assertThat(JSON.readTree(put.body()).path("status").asText()).isEqualTo("unchanged");
        assertThat(reloader.current().backend().servicePassword()).isEqualTo("s3cret-pw");
        assertThat(appliedConfigs).isEmpty();
    }

    @Test
    void putAppliesAReloadableChangeAndAnswersTheNewChecksum() throws Exception {
        HttpResponse<String> put = send("PUT", "", CONFIG.replace("max-connections: 10", "max-connections: 25"));

        assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        JsonNode json = JSON.readTree(put.body());
        assertThat(json.path("status").asText()).isEqualTo("applied");
        assertThat(json.path("changes").get(0).asText()).isEqualTo("proxy.max-connections: 10 -> 25");
        assertThat(json.path("config_checksum").asText()).isEqualTo(reloader.current().checksum());
        assertThat(reloader.current().proxy().maxConnections()).isEqualTo(25);
        assertThat(appliedConfigs).singleElement().isSameAs(reloader.current());
    }

    @Test
    void anInvalidConfigGets400WithTheLoadersMessageAndChangesNothing() throws Exception {
        TiProxyConfig before = reloader.current();

        HttpResponse<String> put = send("PUT", "", "proxy:\n  max-connections: 25\n  max-conections: 3\n");

        assertThat(put.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(put.body()).path("error").asText()).startsWith("api:3: proxy.max-conections: unknown key");
        assertThat(reloader.current()).isSameAs(before);
    }

    @Test
    void aChangeNeedingARestartGets409AndChangesNothing() throws Exception {
        TiProxyConfig before = reloader.current();

        HttpResponse<String> put = send("PUT", "", CONFIG.replace("127.0.0.1:6000", "127.0.0.1:7000"));

        assertThat(put.statusCode()).isEqualTo(409);
        assertThat(JSON.readTree(put.body()).path("error").asText()).contains("proxy.addr: 127.0.0.1:6000 -> 127.0.0.1:7000");
        assertThat(reloader.current()).isSameAs(before);
    }

    @Test
    void anEmptyBodyIsRefusedRatherThanResettingEverythingToDefaults() throws Exception {
        HttpResponse<String> put = send("PUT", "", "  \n");

        assertThat(put.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(put.body()).path("error").asText()).startsWith("request body is empty");
    }

    @Test
    void anUnknownFormatIs400() throws Exception {
        HttpResponse<String> response = send("GET", "?format=toml", null);

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("format must be json or yaml");
    }
}
