package io.tiproxy.manager.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ConfigReloaderTest {
    private final List<TiProxyConfig[]> applied = new ArrayList<>();

    private static TiProxyConfig parse(String yaml) throws ConfigException {
        return ConfigLoader.parse(yaml, "test");
    }

    private static final String BASE = """
            proxy:
              addr: "127.0.0.1:6000"
              max-connections: 10
            backend:
              service-user: "svc"
              service-password: "s3cret-pw"
            """;

    private ConfigReloader reloader() throws ConfigException {
        return new ConfigReloader(parse(BASE), (previous, next) -> applied.add(new TiProxyConfig[] {previous, next}));
    }

    @Test
    void aReloadableChangeIsAppliedAndListed() throws Exception {
        ConfigReloader reloader = reloader();
        TiProxyConfig before = reloader.current();

        var outcome = reloader.offer(parse(BASE.replace("max-connections: 10", "max-connections: 20")
                + "log:\n  level: debug\n"), "test");

        assertThat(outcome).isInstanceOf(ConfigReloader.Applied.class);
        assertThat(((ConfigReloader.Applied) outcome).changes())
                .containsExactly("proxy.max-connections: 10 -> 20", "log.level: info -> debug");
        assertThat(reloader.current().proxy().maxConnections()).isEqualTo(20);
        assertThat(applied).singleElement().satisfies(pair -> {
            assertThat(pair[0]).isSameAs(before);
            assertThat(pair[1]).isSameAs(reloader.current());
        });
    }

    @Test
    void aChangeThatNeedsARestartRefusesTheWholeConfig() throws Exception {
        ConfigReloader reloader = reloader();
        TiProxyConfig before = reloader.current();

        var outcome = reloader.offer(parse(BASE.replace("127.0.0.1:6000", "127.0.0.1:6001")
                .replace("max-connections: 10", "max-connections: 20")), "test");

        assertThat(outcome).isInstanceOf(ConfigReloader.Rejected.class);
        assertThat(((ConfigReloader.Rejected) outcome).reason())
                .isEqualTo("needs a restart, so nothing was applied: proxy.addr: 127.0.0.1:6000 -> 127.0.0.1:6001");
        assertThat(reloader.current()).isSameAs(before);
        assertThat(applied).isEmpty();
    }

    @Test
    void aConfigTheComponentsCannotTakeIsRefusedAndTheOldOneStays() throws Exception {
        ConfigReloader reloader = new ConfigReloader(parse(BASE), (previous, next) -> {
            throw new IllegalStateException("certificate does not match its key");
        });
        TiProxyConfig before = reloader.current();

        var outcome = reloader.offer(parse(BASE.replace("max-connections: 10", "max-connections: 20")), "test");

        assertThat(outcome).isInstanceOf(ConfigReloader.Rejected.class);
        assertThat(((ConfigReloader.Rejected) outcome).reason()).endsWith("certificate does not match its key");
        assertThat(reloader.current()).isSameAs(before);
    }

    @Test
    void anEqualConfigChangesNothing() throws Exception {
        ConfigReloader reloader = reloader();

        var outcome = reloader.offer(parse("# same, other comments\n" + BASE), "test");

        assertThat(outcome).isInstanceOf(ConfigReloader.Unchanged.class);
        assertThat(applied).isEmpty();
    }

    @Test
    void aMaskedSecretKeepsTheRunningValueAndANewOneIsApplied() throws Exception {
        ConfigReloader reloader = reloader();
        String shown = reloader.current().toYaml();
        assertThat(shown).contains("******").doesNotContain("s3cret-pw");

        assertThat(reloader.offer(parse(shown), "test")).isInstanceOf(ConfigReloader.Unchanged.class);
        assertThat(reloader.current().backend().servicePassword()).isEqualTo("s3cret-pw");

        var outcome = reloader.offer(parse(BASE.replace("s3cret-pw", "n3w-pw")), "test");
        assertThat(outcome).isInstanceOf(ConfigReloader.Applied.class);
        assertThat(reloader.current().backend().servicePassword()).isEqualTo("n3w-pw");
        assertThat(outcome.toString()).doesNotContain("n3w-pw");
    }

    @Test
    void everyKeyIsClassifiedAndOnlyListenersAndDiscoveryNeedARestart() {
        List<String> restart = ReloadableKeys.keys(TiProxyConfig.defaults()).stream()
                .filter(key -> !ReloadableKeys.isReloadable(key)).toList();

        // a new key lands here until someone decides whether it can be reloaded
        assertThat(Set.copyOf(restart)).isEqualTo(Set.of("proxy.addr", "proxy.pd-addrs", "proxy.proxy-protocol", "api.addr",
                "backend.proxy-protocol"));
    }
}
