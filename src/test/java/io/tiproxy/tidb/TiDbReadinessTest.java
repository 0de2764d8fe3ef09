package io.tiproxy.tidb;

import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.proxy.client.TiDbReadiness;
import io.tiproxy.testkit.MariaDbCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@link TiDbReadiness} against the status port of a simulated TiDB. Fact "Status port": {@code GET /config}
 * with an empty {@code security.session-token-signing-cert} means the TiDB cannot take part in migration;
 * asked at most once a minute per backend, as TiProxy does.
 */
class TiDbReadinessTest {
    @TempDir
    Path dir;

    /** A clock the test moves forward by hand. */
    static final class ManualClock extends Clock {
        private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

        void advance(Duration d) {
            now = now.plus(d);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void asksConfigOnceAMinuteAndFollowsTheCertificate() throws Exception {
        ManualClock clock = new ManualClock();
        Map<String, String> watched = new ConcurrentHashMap<>();
        try (SimulatedTiDb tidb = new SimulatedTiDb("ready", MariaDbCluster.shared().server(0));
             TiDbReadiness readiness = new TiDbReadiness(() -> Map.copyOf(watched), clock, Duration.ofSeconds(5))) {
            watched.put(tidb.address(), "127.0.0.1:" + tidb.statusPort());
            readiness.start();

            // no certificate: not ready, with a reason naming the backend and the key
            await().atMost(Duration.ofSeconds(10)).until(() -> readiness.whyNotReady(tidb.address()) != null);
            assertThat(readiness.whyNotReady(tidb.address()))
                    .contains(tidb.address()).contains("security.session-token-signing-cert is empty");
            assertThat(readiness.notReady()).containsOnlyKeys(tidb.address());
            assertThat(tidb.configRequests()).isEqualTo(1);

            // checks run every second, but /config is asked again only after a minute
            Thread.sleep(2500);
            assertThat(tidb.configRequests()).isEqualTo(1);

            // the certificate is configured: at the next check (a minute later) the TiDB is ready again
            tidb.loadSigningCert(SimulatedTiDbSigningCert.generate(dir, SimulatedTiDbSigningCert.Kind.ED25519));
            clock.advance(TiDbReadiness.CHECK_INTERVAL);
            await().atMost(Duration.ofSeconds(10)).until(() -> readiness.whyNotReady(tidb.address()) == null);
            assertThat(tidb.configRequests()).isEqualTo(2);
            assertThat(readiness.notReady()).isEmpty();

            // a backend that leaves is forgotten: back again (a restarted TiDB), it is asked at once
            watched.clear();
            Thread.sleep(3000); // several rounds of checks see it gone
            watched.put(tidb.address(), "127.0.0.1:" + tidb.statusPort());
            await().atMost(Duration.ofSeconds(10)).until(() -> tidb.configRequests() == 3);
            assertThat(readiness.whyNotReady(tidb.address())).isNull();
        }
    }

    @Test
    void aConfigThatCannotBeReadKeepsTheLastAnswer() throws Exception {
        ManualClock clock = new ManualClock();
        SimulatedTiDb tidb = new SimulatedTiDb("gone", MariaDbCluster.shared().server(0));
        String address = tidb.address();
        try (TiDbReadiness readiness = new TiDbReadiness(() -> Map.of(address, "127.0.0.1:" + tidb.statusPort()),
                clock, Duration.ofSeconds(2))) {
            readiness.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> readiness.whyNotReady(address) != null);
            tidb.close(); // the status port stops answering
            clock.advance(TiDbReadiness.CHECK_INTERVAL);
            Thread.sleep(2500);
            assertThat(readiness.whyNotReady(address)).isNotNull();
        } finally {
            tidb.close();
        }
    }

    /** Fact "Topology in PD's etcd": the status port comes from {@code info.status_port}; static backends have none. */
    @Test
    void watchesOnlyBackendsWithAStatusPortThatAreStillThere() {
        Instant t = Instant.EPOCH;
        List<BackendInfo> backends = List.of(
                new BackendInfo("10.0.0.1:4000", BackendState.HEALTHY, "", 10080, Map.of(), t),
                new BackendInfo("10.0.0.2:4000", BackendState.UNHEALTHY, "status 500", 10080, Map.of(), t),
                new BackendInfo("10.0.0.3:4000", BackendState.REMOVED, "gone", 10080, Map.of(), t),
                new BackendInfo("10.0.0.4:3306", BackendState.HEALTHY, "", 0, Map.of(), t),
                new BackendInfo("[fd00::5]:4000", BackendState.DRAINING, "", 10081, Map.of(), t));
        assertThat(TiDbReadiness.statusAddresses(backends)).containsExactly(
                Map.entry("10.0.0.1:4000", "10.0.0.1:10080"),
                Map.entry("10.0.0.2:4000", "10.0.0.2:10080"),
                Map.entry("[fd00::5]:4000", "[fd00::5]:10081"));
    }
}
