package io.tiproxy.testkit;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The real sysbench (oltp_read_write) against a port, with the test accounts. */
public final class Sysbench {
    private Sysbench() {}

    public static List<String> command(int port, int tables, int tableSize, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("sysbench", "oltp_read_write", "--db-driver=mysql",
                "--mysql-host=127.0.0.1", "--mysql-port=" + port, "--mysql-user=" + TestAccounts.APP_USER,
                "--mysql-password=" + TestAccounts.APP_PASSWORD, "--mysql-db=" + TestAccounts.DATABASE,
                "--tables=" + tables, "--table-size=" + tableSize));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    /** Independent servers each need the tables: prepared directly on every one. */
    public static void prepareOnEach(List<MariaDbServer> servers, int tables, int tableSize) {
        for (MariaDbServer server : servers) {
            Commands.run(command(server.port(), tables, tableSize, "cleanup"), null, Duration.ofSeconds(60));
            Commands.Result prep = Commands.run(command(server.port(), tables, tableSize, "prepare"), null, Duration.ofSeconds(120));
            assertThat(prep.exitCode()).as(prep.output()).isZero();
        }
    }

    /** A cluster that replicates (Galera) needs the tables once: prepared directly on {@code server}. */
    public static void prepareOnce(MariaDbServer server, int tables, int tableSize) {
        prepareOnEach(List.of(server), tables, tableSize);
    }

    /** A run that ended well: exit 0, some transactions, no ignored error, no reconnect, no FATAL. */
    public static void assertClean(Commands.Result run) {
        assertThat(run.exitCode()).as(run.output()).isZero();
        assertThat(count(run, "transactions")).as("transactions in:\n" + run.output()).isPositive();
        assertThat(count(run, "ignored errors")).as("ignored errors in:\n" + run.output()).isZero();
        assertThat(count(run, "reconnects")).as("reconnects in:\n" + run.output()).isZero();
        assertThat(run.output()).doesNotContain("FATAL");
    }

    private static long count(Commands.Result run, String label) {
        Matcher m = Pattern.compile(label + ":\\s+(\\d+)").matcher(run.output());
        assertThat(m.find()).as(label + " in:\n" + run.output()).isTrue();
        return Long.parseLong(m.group(1));
    }
}
