package io.tiproxy.testkit;

import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.server.TiProxyServer;

import java.util.List;
import java.util.stream.Collectors;

/**
 * A real proxy (the product's own composition root) on ephemeral loopback ports, configured from YAML
 * text through the real config loader.
 */
public final class TestProxy implements AutoCloseable {
    private final TiProxyServer server;

    private TestProxy(TiProxyServer server) {
        this.server = server;
    }

    /** A proxy like this one but with more keys in its api section (e.g. credentials); this one is closed. */
    public TestProxy withApiYaml(String apiYaml) {
        close();
        return startYaml(lastYaml.replace("api:\n  addr: \"127.0.0.1:0\"\n", "api:\n  addr: \"127.0.0.1:0\"\n" + apiYaml));
    }

    private String lastYaml;

    /** Starts a proxy in front of {@code backends}; {@code extraYaml} adds sections (indented YAML lines). */
    public static TestProxy start(List<String> backends, String extraProxyYaml, String extraYaml) {
        String yaml = "proxy:\n"
                + "  addr: \"127.0.0.1:0\"\n"
                + "  backends: [" + backends.stream().map(b -> "\"" + b + "\"").collect(Collectors.joining(", ")) + "]\n"
                + extraProxyYaml
                + "api:\n"
                + "  addr: \"127.0.0.1:0\"\n"
                + extraYaml;
        return startYaml(yaml);
    }

    private static TestProxy startYaml(String yaml) {
        try {
            TiProxyConfig cfg = ConfigLoader.parse(yaml, "test-config");
            TiProxyServer server = new TiProxyServer(cfg);
            server.start();
            TestProxy p = new TestProxy(server);
            p.lastYaml = yaml;
            return p;
        } catch (Exception e) {
            throw new IllegalStateException("cannot start proxy with config:\n" + yaml, e);
        }
    }

    public static TestProxy start(List<String> backends) {
        return start(backends, "", "");
    }

    /** YAML for the service account every test server has (lets sessions migrate). */
    public static final String SERVICE_ACCOUNT = "backend:\n  service-user: \"" + TestAccounts.SERVICE_USER
            + "\"\n  service-password: \"" + TestAccounts.SERVICE_PASSWORD + "\"\n";

    /** A proxy whose sessions can migrate (service account configured). */
    public static TestProxy startMigratable(List<String> backends) {
        return start(backends, "", SERVICE_ACCOUNT);
    }

    /** Calls the proxy's HTTP API; returns status and body. */
    public HttpResult api(String method, String path) {
        try {
            var client = java.net.http.HttpClient.newHttpClient();
            var req = java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + apiPort() + path))
                    .method(method, java.net.http.HttpRequest.BodyPublishers.noBody()).build();
            var resp = client.send(req, java.net.http.HttpResponse.BodyHandlers.ofString());
            return new HttpResult(resp.statusCode(), resp.body());
        } catch (Exception e) {
            throw new IllegalStateException("API call " + method + " " + path + " failed", e);
        }
    }

    public record HttpResult(int status, String body) {}

    public int port() {
        return server.sqlAddress().getPort();
    }

    public int apiPort() {
        return server.apiAddress().getPort();
    }

    public TiProxyServer server() {
        return server;
    }

    /** JDBC URL for MariaDB Connector/J through the proxy. */
    public String mariadbUrl(String options) {
        return "jdbc:mariadb://127.0.0.1:" + port() + "/" + TestAccounts.DATABASE + (options.isEmpty() ? "" : "?" + options);
    }

    /** JDBC URL for MySQL Connector/J through the proxy. */
    public String mysqlUrl(String options) {
        return "jdbc:mysql://127.0.0.1:" + port() + "/" + TestAccounts.DATABASE + "?sslMode=DISABLED&allowPublicKeyRetrieval=true"
                + (options.isEmpty() ? "" : "&" + options);
    }

    @Override
    public void close() {
        server.close();
    }
}
