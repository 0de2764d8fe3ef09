package io.tiproxy.it;

import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs after every unit and integration test (failsafe, in {@code verify}): scans everything the suite's
 * proxies logged for the passwords and tokens the tests used. None may appear.
 */
class SecretsInLogsIT {

    /** Secrets the tests hand to the proxy (client passwords, service account, API credentials). */
    static final List<String> SECRETS = List.of(TestAccounts.APP_PASSWORD, TestAccounts.ED25519_PASSWORD,
            TestAccounts.SERVICE_PASSWORD, TestAccounts.ADMIN_PASSWORD, "ops-secret", "t0ken");

    @Test
    void noSecretInAnyLogOfTheSuite() throws IOException {
        Path reports = Paths.get("target", "surefire-reports");
        List<Path> logs;
        try (Stream<Path> files = Files.list(reports)) {
            logs = files.filter(p -> p.getFileName().toString().endsWith("-output.txt")).toList();
        }
        assertThat(logs).as("the suite's log files").isNotEmpty();
        List<String> leaks = new ArrayList<>();
        for (Path log : logs) {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            for (String secret : SECRETS) {
                if (text.contains(secret)) {
                    leaks.add(log.getFileName() + " contains " + secret.charAt(0) + "***");
                }
            }
        }
        assertThat(leaks).as("secrets found in logs").isEmpty();
    }
}
