package io.tiproxy.manager.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
    private static final String SOURCE = "conf/test.yaml";

    @TempDir
    Path tempDir;

    private static TiProxyConfig parse(String... lines) throws ConfigException {
        return ConfigLoader.parse(String.join("\n", lines) + "\n", SOURCE);
    }

    private static String errorOf(String... lines) {
        try {
            parse(lines);
        } catch (ConfigException e) {
            return e.getMessage();
        }
        throw new AssertionError("expected a ConfigException for:\n" + String.join("\n", lines));
    }

    @Test
    void shippedExampleLoadsWithThreeStaticBackends() throws Exception {
        TiProxyConfig config = ConfigLoader.load(Path.of("conf/proxy.yaml"));

        assertThat(config.proxy().addr()).isEqualTo(new HostPort("0.0.0.0", 6000));
        assertThat(config.api().addr()).isEqualTo(new HostPort("0.0.0.0", 3080));
        assertThat(config.proxy().backends()).containsExactly(HostPort.parse("127.0.0.1:13306"),
                HostPort.parse("127.0.0.1:13307"), HostPort.parse("127.0.0.1:13308"));
        assertThat(config.proxy().discoversFromPd()).isFalse();
        TiProxyConfig defaults = TiProxyConfig.defaults();
        assertThat(config).isEqualTo(new TiProxyConfig(new ProxyConfig(defaults.proxy().addr(), List.of(),
                config.proxy().backends(), 0, Duration.ofSeconds(15), Duration.ZERO, Duration.ofSeconds(15),
                List.of(), false, ProxyProtocol.NONE, List.of(), "", Duration.ZERO, 90), defaults.api(),
                defaults.backend(), defaults.healthCheck(), defaults.balance(), defaults.security(), defaults.log()));
    }

    @Test
    void emptyOrCommentOnlyFileGivesDefaults() throws Exception {
        assertThat(ConfigLoader.parse("", SOURCE)).isEqualTo(TiProxyConfig.defaults());
        assertThat(parse("# nothing here", "", "# still nothing")).isEqualTo(TiProxyConfig.defaults());
        assertThat(parse("proxy:", "api: {}")).isEqualTo(TiProxyConfig.defaults());
    }

    @Test
    void defaultsMatchTheDocumentedValues() {
        TiProxyConfig config = TiProxyConfig.defaults();
        assertThat(config.proxy().addr()).hasToString("0.0.0.0:6000");
        assertThat(config.proxy().maxConnections()).isZero();
        assertThat(config.proxy().limitsConnections()).isFalse();
        assertThat(config.proxy().handshakeTimeout()).isEqualTo(Duration.ofSeconds(15));
        assertThat(config.proxy().gracefulWaitBeforeShutdown()).isEqualTo(Duration.ZERO);
        assertThat(config.proxy().gracefulCloseConnTimeout()).isEqualTo(Duration.ofSeconds(15));
        assertThat(config.proxy().proxyProtocol()).isEqualTo(ProxyProtocol.NONE);
        assertThat(config.api().addr()).hasToString("0.0.0.0:3080");
        assertThat(config.security().serverTls().enabledAsServer()).isFalse();
        assertThat(config.security().sqlTls().enabledAsClient()).isFalse();
        assertThat(config.security().sqlTls().minTlsVersion()).isEqualTo(TlsVersion.TLS_1_2);
        assertThat(config.log()).isEqualTo(new LogConfig(LogLevel.INFO, LogEncoder.TEXT,
                new LogFileConfig("", 300, 3, 3)));
    }

    @Test
    void readsEverySettingThatDiffersFromDefaults() throws Exception {
        TiProxyConfig config = parse(
                "proxy:",
                "  addr: \"[::1]:7000\"",
                "  pd-addrs: \"pd1:2379, pd2:2379\"",
                "  max-connections: 100",
                "  graceful-wait-before-shutdown: 5",
                "  fail-backend-list: [\"127.0.0.1:13307\"]",
                "  server-version: 8.0.11-proxy",
                "backend: { service-user: svc, service-password: 123456 }",
                "security:",
                "  sql-tls: { skip-ca: true, min-tls-version: 1.3 }",
                "log: { level: DEBUG, encoder: json, log-file: { filename: /tmp/x.log, max-size: 10 } }");

        assertThat(config.proxy().addr()).isEqualTo(new HostPort("::1", 7000));
        assertThat(config.proxy().pdAddrs()).containsExactly(new HostPort("pd1", 2379), new HostPort("pd2", 2379));
        assertThat(config.proxy().maxConnections()).isEqualTo(100);
        assertThat(config.proxy().gracefulWaitBeforeShutdown()).isEqualTo(Duration.ofSeconds(5));
        assertThat(config.proxy().failBackendList()).containsExactly(new HostPort("127.0.0.1", 13307));
        assertThat(config.proxy().proxyProtocol()).isEqualTo(ProxyProtocol.NONE);
        assertThat(config.proxy().serverVersion()).isEqualTo("8.0.11-proxy");
        assertThat(config.backend()).isEqualTo(new BackendConfig("svc", "123456", ProxyProtocol.NONE));
        assertThat(config.security().sqlTls().enabledAsClient()).isTrue();
        assertThat(config.security().sqlTls().minTlsVersion()).isEqualTo(TlsVersion.TLS_1_3);
        assertThat(config.log().level()).isEqualTo(LogLevel.DEBUG);
        assertThat(config.log().encoder()).isEqualTo(LogEncoder.JSON);
        assertThat(config.log().logFile()).isEqualTo(new LogFileConfig("/tmp/x.log", 10, 3, 3));
    }

    @Test
    void proxyProtocolNeedsTrustedNetworksThatParse() throws Exception {
        TiProxyConfig config = parse("proxy:", "  proxy-protocol: v2",
                "  proxy-protocol-networks: [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]",
                "backend:", "  proxy-protocol: v2");
        assertThat(config.proxy().proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThat(config.backend().proxyProtocol()).isEqualTo(ProxyProtocol.V2);
        assertThatThrownBy(() -> parse("proxy:", "  proxy-protocol: v2"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("proxy.proxy-protocol-networks: is empty, so no load balancer may send");
        assertThatThrownBy(() -> parse("proxy:", "  proxy-protocol: v2", "  proxy-protocol-networks: [\"10.0.0.0/40\"]"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("proxy.proxy-protocol-networks: \"10.0.0.0/40\" has a bad prefix length");
        assertThatThrownBy(() -> parse("proxy:", "  proxy-protocol-networks: [\"lb.example.com\"]"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("\"lb.example.com\" is not a network");
    }

    @Test
    void listsAreImmutableAndAcceptBothForms() throws Exception {
        TiProxyConfig asList = parse("proxy:", "  pd-addrs: [\"a:1\", \"b:2\"]");
        TiProxyConfig asString = parse("proxy:", "  pd-addrs: a:1,b:2");
        assertThat(asList).isEqualTo(asString);
        assertThatThrownBy(() -> asList.proxy().pdAddrs().add(new HostPort("c", 3)))
                .isInstanceOf(UnsupportedOperationException.class);
    }

    @Test
    void unknownKeyNamesFileLineKeyPathAndKnownKeys() {
        assertThat(errorOf(
                "proxy:",
                "  addr: \"0.0.0.0:6000\"",
                "",
                "  max-conections: 10"))
                .isEqualTo("conf/test.yaml:4: proxy.max-conections: unknown key (known keys: addr, pd-addrs, "
                        + "backends, max-connections, handshake-timeout, graceful-wait-before-shutdown, "
                        + "graceful-close-conn-timeout, fail-backend-list, require-backend-tls, proxy-protocol, "
                        + "proxy-protocol-networks, server-version, idle-timeout, max-heap-usage-percent)");
        assertThat(errorOf("api:", "  addr: \"0.0.0.0:3080\"", "metrics: {}"))
                .isEqualTo("conf/test.yaml:3: metrics: unknown key (known keys: proxy, api, backend, health-check, balance, security, log)");
        assertThat(errorOf("security:", "  server-tls:", "    cert: \"\"", "    certt: x"))
                .startsWith("conf/test.yaml:4: security.server-tls.certt: unknown key (known keys: cert, key, ca,");
    }

    @Test
    void badAddressNamesLineAndValue() {
        assertThat(errorOf("# listener", "proxy:", "  addr: \"abc\""))
                .isEqualTo("conf/test.yaml:3: proxy.addr: \"abc\" is not host:port");
        assertThat(errorOf("proxy:", "  backends: [\"127.0.0.1:0\"]"))
                .isEqualTo("conf/test.yaml:2: proxy.backends[0]: \"127.0.0.1:0\": port must be 1-65535");
        assertThat(errorOf("api:", "  addr: 127.0.0.1:70000"))
                .isEqualTo("conf/test.yaml:2: api.addr: \"127.0.0.1:70000\" is not host:port: port must be 0-65535");
        assertThat(errorOf("proxy:", "  backends:", "    - \"a:1\"", "    - \"b\""))
                .isEqualTo("conf/test.yaml:4: proxy.backends[1]: \"b\" is not host:port");
        assertThat(errorOf("proxy:", "  pd-addrs: \"pd1:2379,pd2\""))
                .isEqualTo("conf/test.yaml:2: proxy.pd-addrs[1]: \"pd2\" is not host:port");
    }

    @Test
    void listenersMayTakeAnyFreePort() throws Exception {
        TiProxyConfig config = parse("proxy: { addr: \"127.0.0.1:0\" }", "api: { addr: \"127.0.0.1:0\" }");
        assertThat(config.proxy().addr().port()).isZero();
        assertThat(config.api().addr().port()).isZero();
    }

    @Test
    void wrongTypesNameLineAndWhatWasFound() {
        assertThat(errorOf("proxy:", "  max-connections: \"ten\""))
                .isEqualTo("conf/test.yaml:2: proxy.max-connections: expected an integer, got the string \"ten\"");
        assertThat(errorOf("proxy:", "  require-backend-tls: \"yes\""))
                .isEqualTo("conf/test.yaml:2: proxy.require-backend-tls: expected true or false, "
                        + "got the string \"yes\"");
        assertThat(errorOf("proxy: 5"))
                .isEqualTo("conf/test.yaml:1: proxy: expected a mapping of keys, got the integer 5");
        assertThat(errorOf("proxy:", "  addr:", "    - \"a:1\""))
                .isEqualTo("conf/test.yaml:2: proxy.addr: expected a single value, got a list");
        assertThat(errorOf("proxy:", "  backends: 7"))
                .startsWith("conf/test.yaml:2: proxy.backends: expected a list");
        assertThat(errorOf("- proxy")).startsWith("conf/test.yaml:1: expected a mapping of sections");
    }

    @Test
    void valuesOutsideTheirSetsAreRefused() {
        assertThat(errorOf("log:", "  level: verbose"))
                .isEqualTo("conf/test.yaml:2: log.level: \"verbose\" is not one of "
                        + "\"trace\", \"debug\", \"info\", \"warn\", \"error\"");
        assertThat(errorOf("log:", "  level: info", "  encoder: xml"))
                .isEqualTo("conf/test.yaml:3: log.encoder: \"xml\" is not one of \"text\", \"json\"");
        assertThat(errorOf("proxy:", "  proxy-protocol: v1"))
                .isEqualTo("conf/test.yaml:2: proxy.proxy-protocol: \"v1\" is not one of \"\", \"v2\"");
        assertThat(errorOf("security:", "  sql-tls: { min-tls-version: \"1.4\" }"))
                .startsWith("conf/test.yaml:2: security.sql-tls.min-tls-version: \"1.4\" is not one of \"1.0\"");
        assertThat(errorOf("proxy:", "  addr: \"0.0.0.0:6000\"", "  max-connections: -1"))
                .isEqualTo("conf/test.yaml:3: proxy.max-connections: must be 0 (no limit) or more, got -1");
        assertThat(errorOf("log:", "  log-file:", "    max-size: 0"))
                .isEqualTo("conf/test.yaml:3: log.log-file.max-size: must be at least 1 (MiB), got 0");
        assertThat(errorOf("proxy:", "  max-heap-usage-percent: 101"))
                .isEqualTo("conf/test.yaml:2: proxy.max-heap-usage-percent: must be 0 (no guard) to 100, got 101");
        assertThat(errorOf("health-check:", "  interval: 1s", "  fail-threshold: 0"))
                .isEqualTo("conf/test.yaml:3: health-check.fail-threshold: must be at least 1, got 0");
        assertThat(errorOf("health-check:", "  timeout: 0"))
                .isEqualTo("conf/test.yaml:2: health-check.timeout: must be more than 0, got PT0S");
        assertThat(errorOf("balance:", "  conn-count:", "    min-gap: 1"))
                .isEqualTo("conf/test.yaml:3: balance.conn-count.min-gap: must be at least 2 (moving one session "
                        + "cannot narrow a gap of 1), got 1");
        assertThat(errorOf("balance:", "  policy: least-conn"))
                .startsWith("conf/test.yaml:2: balance.policy: \"least-conn\" is not one of \"resource\"");
    }

    @Test
    void healthCheckAndBalanceSectionsBind() throws Exception {
        TiProxyConfig config = parse("health-check:", "  interval: 500ms", "  timeout: 1s", "  fail-threshold: 3",
                "  recover-threshold: 2", "balance:", "  policy: resource", "  max-concurrent-migrations: 8",
                "  status: { migrations-per-second: 50 }", "  location: { zone: east, migrations-per-second: 3 }",
                "  load:", "    sample-interval: 500ms", "    busy-threads: 4", "    ratio-percent: 150",
                "    migrations-per-second: 1", "  conn-count:", "    count-ratio-percent: 130", "    min-gap: 5",
                "    migrations-per-second: 0");
        assertThat(config.healthCheck()).isEqualTo(new HealthCheckConfig(Duration.ofMillis(500),
                Duration.ofSeconds(1), 3, 2));
        assertThat(config.balance()).isEqualTo(new BalanceConfig(BalancePolicy.RESOURCE, 8,
                new BalanceConfig.Status(50), new BalanceConfig.Location("east", 3),
                new BalanceConfig.Load(Duration.ofMillis(500), 4, 150, 1), new BalanceConfig.ConnCount(130, 5, 0)));
        // a section given in part keeps the defaults of the keys it leaves out
        assertThat(parse("balance:", "  conn-count: { min-gap: 4 }").balance().connCount())
                .isEqualTo(new BalanceConfig.ConnCount(120, 4, 10));
    }

    @Test
    void tlsCertificateAndKeyGoTogether() throws Exception {
        Path cert = Files.writeString(tempDir.resolve("cert.pem"), "x");
        Path key = Files.writeString(tempDir.resolve("key.pem"), "x");

        assertThat(errorOf("security:", "  server-tls:", "    cert: \"" + cert + "\""))
                .isEqualTo("conf/test.yaml:3: security.server-tls.cert: is set but key is not (set both or neither)");
        assertThat(errorOf("security:", "  server-tls:", "    ca: \"\"", "    key: \"" + key + "\""))
                .isEqualTo("conf/test.yaml:4: security.server-tls.key: is set but cert is not (set both or neither)");
        TiProxyConfig config = parse("security:", "  server-tls:", "    cert: \"" + cert + "\"",
                "    key: \"" + key + "\"", "    require: true");
        assertThat(config.security().serverTls().enabledAsServer()).isTrue();
        assertThat(config.security().serverTls().require()).isTrue();
    }

    @Test
    void tlsFilesMustExist() {
        String missing = tempDir.resolve("nope.pem").toString();
        assertThat(errorOf("security:", "  sql-tls:", "    skip-ca: false", "    ca: \"" + missing + "\""))
                .isEqualTo("conf/test.yaml:4: security.sql-tls.ca: file \"" + missing + "\" does not exist");
    }

    @Test
    void settingsThatCannotWorkTogetherAreRefused() {
        assertThat(errorOf("proxy:", "  require-backend-tls: true"))
                .isEqualTo("conf/test.yaml:2: proxy.require-backend-tls: is true but security.sql-tls is not "
                        + "enabled (set its ca, or skip-ca: true)");
        assertThat(errorOf("security:", "  server-tls: { require: true }"))
                .startsWith("conf/test.yaml:2: security.server-tls.require: is true but cert and key are not set");
        assertThat(errorOf("proxy:", "  addr: \"127.0.0.1:4000\"", "api:", "  addr: \"0.0.0.0:4000\""))
                .isEqualTo("conf/test.yaml:4: api.addr: \"0.0.0.0:4000\" clashes with proxy.addr \"127.0.0.1:4000\"");
    }

    @Test
    void duplicateKeysAndBrokenYamlNameTheLine() {
        assertThat(errorOf("proxy:", "  addr: \"a:1\"", "  addr: \"b:2\""))
                .isEqualTo("conf/test.yaml:3: proxy.addr: duplicate key (first set on line 2)");
        assertThat(errorOf("proxy:", "  addr: \"a:1\"", "  backends: [\"a:1\"", "api:"))
                .isEqualTo("conf/test.yaml:4: not valid YAML: expected ',' or ']', but got <scalar>");
        assertThat(errorOf("proxy:", "\taddr: \"a:1\""))
                .startsWith("conf/test.yaml:2: not valid YAML: found character '\\t(TAB)'");
    }

    @Test
    void durationsAcceptGoFormsAndBareSeconds() throws Exception {
        assertThat(handshakeTimeout("\"500ms\"")).isEqualTo(Duration.ofMillis(500));
        assertThat(handshakeTimeout("\"15s\"")).isEqualTo(Duration.ofSeconds(15));
        assertThat(handshakeTimeout("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(handshakeTimeout("1h30m")).isEqualTo(Duration.ofMinutes(90));
        assertThat(handshakeTimeout("1.5s")).isEqualTo(Duration.ofMillis(1500));
        assertThat(handshakeTimeout("20")).isEqualTo(Duration.ofSeconds(20));
        assertThat(handshakeTimeout("\"20\"")).isEqualTo(Duration.ofSeconds(20));
        assertThat(parse("proxy:", "  graceful-close-conn-timeout: 30").proxy().gracefulCloseConnTimeout())
                .isEqualTo(Duration.ofSeconds(30));

        assertThat(errorOf("proxy:", "  handshake-timeout: 15x"))
                .startsWith("conf/test.yaml:2: proxy.handshake-timeout: \"15x\" is not a duration");
        assertThat(errorOf("proxy:", "  handshake-timeout: -1"))
                .startsWith("conf/test.yaml:2: proxy.handshake-timeout: \"-1\" is not a duration");
        assertThat(errorOf("proxy:", "  graceful-wait-before-shutdown: 1.5"))
                .startsWith("conf/test.yaml:2: proxy.graceful-wait-before-shutdown: expected a duration");
    }

    private static Duration handshakeTimeout(String yamlValue) throws ConfigException {
        return parse("proxy:", "  handshake-timeout: " + yamlValue).proxy().handshakeTimeout();
    }

    @Test
    void durationsFormatCompactlyAndReadBack() {
        for (Duration d : List.of(Duration.ZERO, Duration.ofMillis(500), Duration.ofSeconds(15),
                Duration.ofMinutes(90), Duration.ofMillis(1500), Duration.ofNanos(1200), Duration.ofHours(49))) {
            assertThat(Durations.parse(Durations.format(d))).isEqualTo(d);
        }
        assertThat(Durations.format(Duration.ofMillis(500))).isEqualTo("500ms");
        assertThat(Durations.format(Duration.ofSeconds(90))).isEqualTo("1m30s");
        assertThat(Durations.format(Duration.ofMillis(1500))).isEqualTo("1.5s");
    }

    @Test
    void hostPortParsesAndFormatsIpv4NamesAndIpv6() {
        assertThat(HostPort.parse("127.0.0.1:6000")).isEqualTo(new HostPort("127.0.0.1", 6000));
        assertThat(HostPort.parse("db.local:3306")).isEqualTo(new HostPort("db.local", 3306));
        assertThat(HostPort.parse("[::1]:6000")).isEqualTo(new HostPort("::1", 6000));
        assertThat(HostPort.parse("[fe80::1%eth0]:6000").host()).isEqualTo("fe80::1%eth0");
        for (String text : List.of("127.0.0.1:6000", "[::1]:6000", "db.local:0", "[2001:db8::7]:65535")) {
            assertThat(HostPort.parse(text)).hasToString(text);
        }
    }

    @Test
    void hostPortRefusesWhatIsNotHostColonPort() {
        for (String text : List.of("abc", "1.2.3.4:", ":6000", "1.2.3.4:x", "1.2.3.4:-1", "[::1]", "[::1]6000",
                "[]:1", "::1:6000", "[127.0.0.1]:1", "h:65536", "h:123456")) {
            assertThatThrownBy(() -> HostPort.parse(text)).as(text)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("\"" + text + "\" is not host:port");
        }
    }

    @Test
    void renderingRoundTripsAndMasksThePassword() throws Exception {
        TiProxyConfig config = parse("proxy:", "  backends: [\"127.0.0.1:13306\", \"[::1]:13307\"]",
                "  pd-addrs: \"pd:2379\"", "  handshake-timeout: 1500ms", "  graceful-wait-before-shutdown: 3",
                "security: { sql-tls: { skip-ca: true } }");
        assertThat(ConfigLoader.parse(config.toYaml(), "rendered")).isEqualTo(config);
        assertThat(ConfigLoader.parse(config.toJson(), "rendered")).isEqualTo(config);
        assertThat(config.toJson()).contains("\"graceful-wait-before-shutdown\":3", "\"pd-addrs\":\"pd:2379\"",
                "\"handshake-timeout\":\"1.5s\"", "\"proxy-protocol\":\"\"", "\"max-size\":300");

        TiProxyConfig withPassword = parse("backend: { service-user: svc, service-password: s3cret }");
        assertThat(withPassword.toJson()).contains("\"service-password\":\"******\"").doesNotContain("s3cret");
        assertThat(withPassword.toYaml()).doesNotContain("s3cret");
        assertThat(withPassword.toString()).doesNotContain("s3cret");
    }

    @Test
    void checksumIsStableAndFollowsChanges() throws Exception {
        TiProxyConfig defaults = TiProxyConfig.defaults();
        assertThat(defaults.checksum()).hasSize(64).isEqualTo(parse("# empty").checksum());
        assertThat(parse("proxy: { max-connections: 1 }").checksum()).isNotEqualTo(defaults.checksum());
        assertThat(ConfigLoader.load(Path.of("conf/proxy.yaml")).checksum())
                .isEqualTo(ConfigLoader.load(Path.of("conf/proxy.yaml")).checksum());
    }

    @Test
    void missingFileIsNamed() {
        Path missing = tempDir.resolve("absent.yaml");
        assertThatThrownBy(() -> ConfigLoader.load(missing)).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(missing + ": cannot be read");
    }
}
