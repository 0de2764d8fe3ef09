package io.tiproxy.proxy;

import io.tiproxy.testkit.Commands;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The `mariadb` command-line client through the proxy, as a newcomer would use it. */
class MariaDbCliTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    static Commands.Result mariadb(String user, String password, String stdin, String... extra) {
        List<String> cmd = new ArrayList<>(List.of("mariadb", "--no-defaults", "-h127.0.0.1", "-P" + proxy.port(),
                "-u" + user, "-p" + password, "--batch", "--skip-column-names"));
        cmd.addAll(List.of(extra));
        cmd.add(TestAccounts.DATABASE);
        return Commands.run(cmd, stdin, Duration.ofSeconds(60));
    }

    @Test
    void runsAScriptOfStatements() {
        Commands.Result r = mariadb(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD,
                "CREATE TABLE IF NOT EXISTS cli_t (id INT PRIMARY KEY, s VARCHAR(10));\n"
                        + "REPLACE INTO cli_t VALUES (1, 'one'), (2, 'two');\n"
                        + "SELECT s FROM cli_t ORDER BY id;\n"
                        + "SELECT CURRENT_USER();\n"
                        + "DELIMITER //\nSELECT 'a'; SELECT 'b'//\nDELIMITER ;\n"
                        + "STATUS;\n");
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).contains("one\ntwo\n").contains("app@%").contains("a\nb\n");
        assertThat(r.output()).contains("Connection id:");
    }

    @Test
    void theInfoOfOkPacketsInsideATransactionReachesTheCli() {
        // libmariadb asks for session tracking, so these OK packets (info text, inside a transaction) reach it as
        // the backend sent them, state block included (PlainOkTest covers a client that does not ask)
        Commands.Result r = mariadb(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD,
                "CREATE TABLE IF NOT EXISTS cli_ok (id INT PRIMARY KEY, n INT);\n"
                        + "REPLACE INTO cli_ok VALUES (1, 0), (2, 0), (3, 0);\n"
                        + "BEGIN;\n"
                        + "UPDATE cli_ok SET n = n + 1 WHERE id <= 2;\n"
                        + "SET time_zone = '+02:00';\n"
                        + "COMMIT;\n"
                        + "SELECT SUM(n), @@session.time_zone FROM cli_ok;\n",
                "-vvv");
        assertThat(r.exitCode()).as(r.output()).isZero();
        // a whole line: an OK left in the tracked format would show a length byte before it and state after it
        assertThat(r.output()).contains("\nRows matched: 2  Changed: 2  Warnings: 0\n")
                .contains("\nRecords: 3  Duplicates: 0  Warnings: 0\n").contains("|    2 | +02:00 |");
    }

    @Test
    void wrongPasswordShowsTheBackendsError() {
        Commands.Result r = mariadb(TestAccounts.APP_USER, "wrong", "SELECT 1;\n");
        assertThat(r.exitCode()).isNotZero();
        assertThat(r.output()).contains("ERROR 1045").contains("Access denied for user 'app'");
    }

    @Test
    void ed25519AccountLogsIn() {
        Commands.Result r = mariadb(TestAccounts.ED25519_USER, TestAccounts.ED25519_PASSWORD, "SELECT 40 + 2;\n");
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output().trim()).isEqualTo("42");
    }

    @Test
    void loadDataLocalInfileFromTheCli(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("cli.csv");
        Files.writeString(csv, "1\tx\n2\ty\n3\tz\n");
        Commands.Result r = mariadb(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD,
                "CREATE TABLE IF NOT EXISTS cli_infile (id INT PRIMARY KEY, s VARCHAR(5));\n"
                        + "DELETE FROM cli_infile;\n"
                        + "LOAD DATA LOCAL INFILE '" + csv + "' INTO TABLE cli_infile;\n"
                        + "SELECT GROUP_CONCAT(s ORDER BY id) FROM cli_infile;\n",
                "--local-infile=1");
        assertThat(r.exitCode()).as(r.output()).isZero();
        assertThat(r.output()).contains("x,y,z");
    }

    @Test
    void killConnectionOfAnotherSessionByProcesslistId() {
        // KILL with a backend thread id (as SHOW PROCESSLIST shows it) is passed to the backend unchanged
        Commands.Result r = mariadb(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD,
                "SELECT CONNECTION_ID() INTO @me; KILL QUERY 999999;\n");
        assertThat(r.output()).contains("ERROR 1094").contains("Unknown thread id");
    }
}
