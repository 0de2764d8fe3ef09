package io.tiproxy.proxy;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

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

    static List<String> sysbench(int port, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("sysbench", "oltp_read_write", "--db-driver=mysql",
                "--mysql-host=127.0.0.1", "--mysql-port=" + port, "--mysql-user=" + TestAccounts.APP_USER,
                "--mysql-password=" + TestAccounts.APP_PASSWORD, "--mysql-db=" + TestAccounts.DATABASE,
                "--tables=4", "--table-size=2000"));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    @ParameterizedTest
    @ValueSource(strings = {"auto", "disable"})
    void oltpReadWriteHasNoErrors(String psMode) {
        // each backend holds its own copy of the tables: prepare directly on each one
        for (var server : MariaDbCluster.shared().servers()) {
            Commands.Result prep = Commands.run(sysbench(server.port(), "cleanup"), null, Duration.ofSeconds(60));
            assertThat(prep.exitCode()).as(prep.output()).isZero();
            prep = Commands.run(sysbench(server.port(), "prepare"), null, Duration.ofSeconds(120));
            assertThat(prep.exitCode()).as(prep.output()).isZero();
        }
        Commands.Result run = Commands.run(sysbench(proxy.port(), "--threads=4", "--time=5", "--db-ps-mode=" + psMode,
                "--report-interval=0", "run"), null, Duration.ofSeconds(90));
        assertThat(run.exitCode()).as(run.output()).isZero();
        Matcher m = Pattern.compile("transactions:\\s+(\\d+)").matcher(run.output());
        assertThat(m.find()).as(run.output()).isTrue();
        assertThat(Long.parseLong(m.group(1))).as("transactions").isPositive();
        Matcher errors = Pattern.compile("ignored errors:\\s+(\\d+)").matcher(run.output());
        assertThat(errors.find()).as(run.output()).isTrue();
        assertThat(errors.group(1)).as("ignored errors in:\n" + run.output()).isEqualTo("0");
        assertThat(run.output()).doesNotContain("FATAL");
    }
}
