package io.tiproxy.server;

import io.tiproxy.balance.BalanceSettings;
import io.tiproxy.balance.FactorOrder;
import io.tiproxy.manager.config.BalanceConfig;
import io.tiproxy.manager.config.BalancePolicy;
import io.tiproxy.manager.config.TiProxyConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** The config's balance section as the router sees it. */
class BalanceWiringTest {

    @Test
    void theConfigsDefaultsAreTheRoutersDefaults() {
        assertThat(BalanceWiring.settingsOf(BalanceConfig.defaults())).isEqualTo(BalanceSettings.defaults());
    }

    @Test
    void percentagesBecomeRatiosAndThePolicyNamesTheFactorOrder() {
        BalanceConfig c = new BalanceConfig(BalancePolicy.RESOURCE, 5, new BalanceConfig.Status(7),
                new BalanceConfig.Location("east", 3), new BalanceConfig.Load(Duration.ofSeconds(1), 6, 150, 4),
                new BalanceConfig.ConnCount(130, 4, 9));
        assertThat(BalanceWiring.settingsOf(c)).isEqualTo(new BalanceSettings(FactorOrder.RESOURCE, 5, 7, "east", 3,
                Duration.ofSeconds(1), 6, 1.5, 4, 1.3, 4, 9));
    }

    @Test
    void loadIsSampledOnlyUnderAPolicyThatWeighsIt() {
        TiProxyConfig d = TiProxyConfig.defaults();
        assertThat(BalanceWiring.loadSampleInterval(d)).isEqualTo(Duration.ofSeconds(2));
        BalanceConfig b = d.balance();
        TiProxyConfig connectionOnly = new TiProxyConfig(d.proxy(), d.api(), d.backend(), d.healthCheck(),
                new BalanceConfig(BalancePolicy.CONNECTION, b.maxConcurrentMigrations(), b.status(), b.location(), b.load(),
                        b.connCount()), d.security(), d.log());
        assertThat(BalanceWiring.loadSampleInterval(connectionOnly)).isZero();
    }
}
