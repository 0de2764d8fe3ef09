package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.testkit.MariaDbCluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The status-port check against a simulated TiDB status port (TIDB-FACTS.md, "Status port"). */
class TiDbStatusProbeTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(1);
    private final ExecutorService pool = Executors.newFixedThreadPool(2);
    private SimulatedTiDbStatusPort statusPort;

    @BeforeEach
    void start() throws Exception {
        statusPort = new SimulatedTiDbStatusPort();
    }

    @AfterEach
    void stop() {
        statusPort.close();
        pool.shutdownNow();
    }

    @Test
    void status200IsHealthyAndGracefulShutdown500IsNot() throws Exception {
        TiDbStatusProbe probe = new TiDbStatusProbe(pool);
        DiscoveredBackend tidb = new DiscoveredBackend("127.0.0.1:4000", statusPort.port(), Map.of(), "v8.5.0");
        assertThat(probe.check(tidb, TIMEOUT).get()).isEqualTo(HealthResult.ok());
        statusPort.beginGracefulShutdown();
        HealthResult result = probe.check(tidb, TIMEOUT).get();
        assertThat(result.healthy()).isFalse();
        assertThat(result.reason()).contains("HTTP 500");
    }

    @Test
    void closedStatusPortIsUnhealthyAndNoStatusPortIsNotProbed() throws Exception {
        int closed;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = s.getLocalPort();
        }
        TiDbStatusProbe probe = new TiDbStatusProbe(pool);
        HealthResult down = probe.check(new DiscoveredBackend("127.0.0.1:4000", closed, Map.of(), ""), TIMEOUT).get();
        assertThat(down.healthy()).isFalse();
        assertThat(probe.check(DiscoveredBackend.ofAddress("127.0.0.1:4000"), TIMEOUT).get().healthy()).isTrue();
        assertThat(statusPort.requests()).isZero();
    }

    @Test
    void observerDrainsABackendWhoseStatusPortTurns500WhileItsSqlPortStillServes() {
        // the SQL side is a real MariaDB standing in for TiDB's SQL port; the status side is the simulation
        String sqlAddress = MariaDbCluster.shared().server(0).address();
        ObserverSettings settings = new ObserverSettings(Duration.ofMillis(200), TIMEOUT, 2, 1, "", "");
        FakeBackendSource source = new FakeBackendSource();
        EventRecorder recorder = new EventRecorder();
        try (BackendObserver observer = new BackendObserver(source, new BackendHealthChecker(settings), settings)) {
            observer.subscribe(recorder);
            observer.start();
            source.set(Map.of(sqlAddress, new DiscoveredBackend(sqlAddress, statusPort.port(), Map.of(), "v8.5.0")));
            await().atMost(Duration.ofSeconds(3)).until(() -> recorder.lastIs(sqlAddress, BackendState.HEALTHY));
            assertThat(statusPort.requests()).isPositive();

            statusPort.beginGracefulShutdown();
            await().atMost(Duration.ofSeconds(3)).until(() -> recorder.lastIs(sqlAddress, BackendState.UNHEALTHY));
            assertThat(observer.snapshot().get(sqlAddress).reason()).contains("HTTP 500");
            assertThat(CompletableFuture.supplyAsync(() -> new SqlPortProbe(settings, pool)
                    .check(DiscoveredBackend.ofAddress(sqlAddress), TIMEOUT).join()).join().healthy())
                    .as("the SQL port alone still looks fine: only the status port tells").isTrue();

            statusPort.cancelShutdown();
            await().atMost(Duration.ofSeconds(3)).until(() -> recorder.lastIs(sqlAddress, BackendState.HEALTHY));
        }
    }
}
