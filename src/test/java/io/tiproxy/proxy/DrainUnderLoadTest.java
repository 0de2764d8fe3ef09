package io.tiproxy.proxy;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.Sysbench;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import static org.assertj.core.api.Assertions.assertThat;

/** sysbench oltp_read_write (server-side prepared statements) while every backend is drained in turn. */
class DrainUnderLoadTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.startMigratable(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    @Test
    void sysbenchSeesNoErrorWhileBackendsAreDrainedInTurn() throws Exception {
        Sysbench.prepareOnEach(MariaDbCluster.shared().servers(), 4, 10000);
        CompletableFuture<Commands.Result> run = CompletableFuture.supplyAsync(() -> Commands.run(
                Sysbench.command(proxy.port(), 4, 10000, "--threads=4", "--time=24", "--report-interval=0", "run"),
                null, Duration.ofSeconds(120)));
        int migrationsBefore = migrations();
        for (int round = 0; round < 2 && !run.isDone(); round++) {
            for (MariaDbServer server : MariaDbCluster.shared().servers()) {
                Thread.sleep(2000);
                assertThat(proxy.api("POST", "/api/backends/" + server.address() + "/drain").status()).isEqualTo(200);
                Thread.sleep(2000);
                assertThat(proxy.api("DELETE", "/api/backends/" + server.address() + "/drain").status()).isEqualTo(200);
            }
        }
        Sysbench.assertClean(run.get());
        assertThat(migrations() - migrationsBefore).as("sessions moved during the run").isGreaterThanOrEqualTo(4);
    }

    /** Successful migrations so far, counted from the proxy's log-independent API: sessions' backends change. */
    private int migrations() {
        return proxy.server().migrationsSucceeded();
    }
}
