package io.tiproxy.proxy;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

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

    static List<String> sysbench(int port, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("sysbench", "oltp_read_write", "--db-driver=mysql",
                "--mysql-host=127.0.0.1", "--mysql-port=" + port, "--mysql-user=" + TestAccounts.APP_USER,
                "--mysql-password=" + TestAccounts.APP_PASSWORD, "--mysql-db=" + TestAccounts.DATABASE,
                "--tables=4", "--table-size=10000"));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    @Test
    void sysbenchSeesNoErrorWhileBackendsAreDrainedInTurn() throws Exception {
        for (MariaDbServer server : MariaDbCluster.shared().servers()) {
            Commands.run(sysbench(server.port(), "cleanup"), null, Duration.ofSeconds(60));
            Commands.Result prep = Commands.run(sysbench(server.port(), "prepare"), null, Duration.ofSeconds(120));
            assertThat(prep.exitCode()).as(prep.output()).isZero();
        }
        CompletableFuture<Commands.Result> run = CompletableFuture.supplyAsync(() -> Commands.run(
                sysbench(proxy.port(), "--threads=4", "--time=24", "--report-interval=0", "run"), null, Duration.ofSeconds(120)));
        int migrationsBefore = migrations();
        for (int round = 0; round < 2 && !run.isDone(); round++) {
            for (MariaDbServer server : MariaDbCluster.shared().servers()) {
                Thread.sleep(2000);
                assertThat(proxy.api("POST", "/api/backends/" + server.address() + "/drain").status()).isEqualTo(200);
                Thread.sleep(2000);
                assertThat(proxy.api("DELETE", "/api/backends/" + server.address() + "/drain").status()).isEqualTo(200);
            }
        }
        Commands.Result result = run.get();
        assertThat(result.exitCode()).as(result.output()).isZero();
        Matcher tx = Pattern.compile("transactions:\\s+(\\d+)").matcher(result.output());
        assertThat(tx.find()).as(result.output()).isTrue();
        assertThat(Long.parseLong(tx.group(1))).isPositive();
        Matcher errors = Pattern.compile("ignored errors:\\s+(\\d+)").matcher(result.output());
        assertThat(errors.find()).isTrue();
        assertThat(errors.group(1)).as("ignored errors in:\n" + result.output()).isEqualTo("0");
        Matcher reconnects = Pattern.compile("reconnects:\\s+(\\d+)").matcher(result.output());
        assertThat(reconnects.find()).isTrue();
        assertThat(reconnects.group(1)).as("reconnects").isEqualTo("0");
        assertThat(migrations() - migrationsBefore).as("sessions moved during the run").isGreaterThanOrEqualTo(4);
    }

    /** Successful migrations so far, counted from the proxy's log-independent API: sessions' backends change. */
    private int migrations() {
        return proxy.server().migrationsSucceeded();
    }
}
