package io.tiproxy.server;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Base64;

import static org.assertj.core.api.Assertions.assertThat;

/** With api credentials configured, admin endpoints need them; health and /metrics stay open. */
class ApiProtectionTest {

    static HttpResponse<String> get(TestProxy proxy, String path, String authorization) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + proxy.apiPort() + path));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return HttpClient.newHttpClient().send(b.GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void adminEndpointsNeedCredentials() throws Exception {
        String api = "  user: \"ops\"\n  password: \"ops-secret\"\n  token: \"t0ken\"\n";
        try (TestProxy proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "", "").withApiYaml(api)) {
            HttpResponse<String> none = get(proxy, "/api/backends", null);
            assertThat(none.statusCode()).isEqualTo(401);
            assertThat(none.headers().firstValue("WWW-Authenticate")).isPresent();
            assertThat(none.body()).contains("error");
            assertThat(get(proxy, "/api/backends", "Bearer wrong").statusCode()).isEqualTo(401);
            assertThat(get(proxy, "/api/backends", "Bearer t0ken").statusCode()).isEqualTo(200);
            String basic = "Basic " + Base64.getEncoder().encodeToString("ops:ops-secret".getBytes());
            assertThat(get(proxy, "/api/admin/config", basic).statusCode()).isEqualTo(200);
            assertThat(get(proxy, "/api/admin/config", basic).body()).doesNotContain("ops-secret").doesNotContain("t0ken");
            assertThat(get(proxy, "/api/debug/health", null).statusCode()).isEqualTo(200);
            assertThat(get(proxy, "/metrics", null).statusCode()).isEqualTo(200);
        }
    }
}
