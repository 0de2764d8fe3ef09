package io.tiproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestCerts;
import io.tiproxy.testkit.TestProxy;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** security.server-http-tls: the API and /metrics over HTTPS only, reached by curl-like clients and tiproxyctl. */
class ApiTlsTest {
    @TempDir
    static Path dir;
    private static TestCerts certs;
    private static TestProxy proxy;

    @BeforeAll
    static void start() {
        certs = TestCerts.create(dir);
        proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "",
                "security:\n  server-http-tls:\n    cert: \"" + certs.cert() + "\"\n    key: \"" + certs.key() + "\"\n");
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    private static HttpResponse<String> get(String scheme, String path) throws Exception {
        SSLContext trustTestCa = ((JdkSslContext) SslContextBuilder.forClient().sslProvider(SslProvider.JDK)
                .trustManager(certs.ca().toFile()).build()).context();
        HttpClient client = HttpClient.newBuilder().sslContext(trustTestCa).build();
        return client.send(HttpRequest.newBuilder(URI.create(scheme + "://127.0.0.1:" + proxy.apiPort() + path))
                .GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void healthMetricsAndAdminAnswerOverHttps() throws Exception {
        HttpResponse<String> health = get("https", "/api/debug/health");
        assertThat(health.statusCode()).isEqualTo(200);
        assertThat(health.body()).contains(proxy.server().config().checksum());
        assertThat(get("https", "/metrics").body()).contains("tiproxy_server_connections");
        assertThat(get("https", "/api/backends").statusCode()).isEqualTo(200);
    }

    @Test
    void plainHttpIsNotServed() {
        assertThatThrownBy(() -> get("http", "/api/debug/health")).isInstanceOf(IOException.class);
    }

    @Test
    void tiproxyctlReachesTheApiWithTheCaOrInsecureAndSaysWhyNotWithout() {
        TiProxyCtlTest.Run withCa = TiProxyCtlTest.ctlAt(proxy.apiPort(), "--ca", certs.ca().toString(), "health");
        assertThat(withCa.exit()).as(withCa.err()).isZero();
        assertThat(withCa.out()).contains(proxy.server().config().checksum());

        TiProxyCtlTest.Run insecure = TiProxyCtlTest.ctlAt(proxy.apiPort(), "-k", "backends", "list");
        assertThat(insecure.exit()).as(insecure.err()).isZero();
        assertThat(insecure.out()).contains(MariaDbCluster.shared().addresses().get(0));

        TiProxyCtlTest.Run untrusted = TiProxyCtlTest.ctlAt(proxy.apiPort(), "--tls", "health");
        assertThat(untrusted.exit()).isEqualTo(3);
        assertThat(untrusted.err()).contains("https://127.0.0.1:" + proxy.apiPort());

        TiProxyCtlTest.Run plain = TiProxyCtlTest.ctlAt(proxy.apiPort(), "health");
        assertThat(plain.exit()).isEqualTo(3);

        TiProxyCtlTest.Run missingCa = TiProxyCtlTest.ctlAt(proxy.apiPort(), "--ca", dir.resolve("nope.pem").toString(),
                "health");
        assertThat(missingCa.exit()).isEqualTo(2);
        assertThat(missingCa.err()).contains("--ca " + dir.resolve("nope.pem") + ": no such readable file");
    }
}
