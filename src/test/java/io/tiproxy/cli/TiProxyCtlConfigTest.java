package io.tiproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.ConfigReloader;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.server.ConfigRoutes;
import io.tiproxy.server.api.HttpApiServer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tiproxyctl config get|set} against the real config routes over HTTP. */
class TiProxyCtlConfigTest {
    private static final String CONFIG = """
            proxy:
              addr: "127.0.0.1:6000"
              max-connections: 10
            backend:
              service-user: "svc"
              service-password: "s3cret-pw"
            """;

    @TempDir
    Path dir;

    private ConfigReloader reloader;
    private HttpApiServer server;

    @BeforeEach
    void start() throws Exception {
        reloader = new ConfigReloader(ConfigLoader.parse(CONFIG, "test"), (previous, next) -> { });
        server = new HttpApiServer(new HostPort("127.0.0.1", 0), ConfigRoutes.create(reloader));
        server.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private TiProxyCtlTest.Run ctl(String... args) {
        return TiProxyCtlTest.ctlAt(server.localAddress().getPort(), args);
    }

    @Test
    void getPrintsYamlThatSetTakesBack() throws Exception {
        TiProxyCtlTest.Run get = ctl("config", "get");
        assertThat(get.exit()).as(get.err()).isZero();
        assertThat(get.out()).contains("max-connections: 10").contains("service-password: \"******\"")
                .doesNotContain("s3cret-pw");

        Path file = dir.resolve("proxy.yaml");
        Files.writeString(file, get.out().replace("max-connections: 10", "max-connections: 12"));
        TiProxyCtlTest.Run set = ctl("config", "set", file.toString());

        assertThat(set.exit()).as(set.err()).isZero();
        assertThat(set.out()).startsWith("applied (config checksum " + reloader.current().checksum() + ")")
                .contains("  proxy.max-connections: 10 -> 12");
        assertThat(reloader.current().backend().servicePassword()).isEqualTo("s3cret-pw");
    }

    @Test
    void jsonFormatsAreTheApis() {
        assertThat(ctl("config", "get", "--json").out()).startsWith("{\"proxy\":{\"addr\":\"127.0.0.1:6000\"");
        assertThat(ctl("config", "get", "--format", "json").out()).startsWith("{\"proxy\":");
        assertThat(ctl("config", "get", "--format", "toml").exit()).isEqualTo(TiProxyCtl.USAGE);
    }

    @Test
    void aRefusedConfigIsExitCode1WithTheLoadersMessage() throws Exception {
        Path file = dir.resolve("bad.yaml");
        Files.writeString(file, "proxy:\n  max-conections: 3\n");

        TiProxyCtlTest.Run run = ctl("config", "set", file.toString());

        assertThat(run.exit()).isEqualTo(TiProxyCtl.API_ERROR);
        assertThat(run.err()).startsWith("tiproxyctl: api:2: proxy.max-conections: unknown key");
    }

    @Test
    void aMissingFileIsAUsageError() {
        TiProxyCtlTest.Run run = ctl("config", "set", dir.resolve("nope.yaml").toString());

        assertThat(run.exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(run.err()).contains("cannot read");
    }
}
