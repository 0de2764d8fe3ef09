package io.tiproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.ConfigReloader;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.server.ConfigRoutes;
import io.tiproxy.server.api.ApiAuth;
import io.tiproxy.server.api.ApiAuth.Credentials;
import io.tiproxy.server.api.HttpApiServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** tiproxyctl's --user/--password and --token against routes protected by {@link ApiAuth}. */
class TiProxyCtlAuthTest {
    private static final String PASSWORD = "ctl-adm1n-pw";
    private static final String TOKEN = "ctl-token-42";

    private HttpApiServer server;

    @BeforeEach
    void start() throws Exception {
        ConfigReloader reloader = new ConfigReloader(ConfigLoader.parse("", "test"), (previous, next) -> { });
        ApiAuth auth = new ApiAuth(() -> new Credentials("admin", PASSWORD, TOKEN));
        server = new HttpApiServer(new HostPort("127.0.0.1", 0), auth.protect(ConfigRoutes.create(reloader)));
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
    void basicAuthAndTokenBothWork() {
        assertThat(ctl("--user", "admin", "--password", PASSWORD, "config", "get").exit()).isZero();
        assertThat(ctl("config", "get", "--token", TOKEN).exit()).isZero();
    }

    @Test
    void missingOrWrongCredentialsAreExitCode1WithTheServersMessage() {
        TiProxyCtlTest.Run none = ctl("config", "get");
        assertThat(none.exit()).isEqualTo(TiProxyCtl.API_ERROR);
        assertThat(none.err()).startsWith("tiproxyctl: authentication required (HTTP Basic: tiproxyctl --user/--password"
                + " or Bearer token: tiproxyctl --token)");

        TiProxyCtlTest.Run wrong = ctl("--user", "admin", "--password", "nope", "config", "get");
        assertThat(wrong.exit()).isEqualTo(TiProxyCtl.API_ERROR);
        assertThat(wrong.err()).startsWith("tiproxyctl: wrong credentials");
    }
}
