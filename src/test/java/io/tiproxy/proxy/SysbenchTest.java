package io.tiproxy.proxy;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.Sysbench;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;

/** A short sysbench OLTP run through the proxy finishes with no errors (prepared and text protocol). */
class SysbenchTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "disable"})
    void oltpReadWriteHasNoErrors(String psMode) {
        // 10,000 rows a table: a run on 2,000 once counted an "ignored error" (for oltp_read_write a deadlock or
        // lock wait on the backend, which more rows make rarer); this test allows none
        Sysbench.prepareOnEach(MariaDbCluster.shared().servers(), 4, 10_000);
        Commands.Result run = Commands.run(Sysbench.command(proxy.port(), 4, 10_000, "--threads=4", "--time=5",
                "--db-ps-mode=" + psMode, "--report-interval=0", "run"), null, Duration.ofSeconds(90));
        Sysbench.assertClean(run);
    }
}
