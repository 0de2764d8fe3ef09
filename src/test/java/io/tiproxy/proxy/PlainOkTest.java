package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The proxy turns session tracking on for every backend connection; a client that did not ask for it
 * (CLIENT_SESSION_TRACK) gets OK packets in the plain format, byte for byte: info as string&lt;EOF&gt;,
 * no session-state block, no SERVER_SESSION_STATE_CHANGED flag. The raw client asks for no tracking.
 */
class PlainOkTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    /** OK: 0x00, affected rows, last insert id, status, warnings, info (all lenenc values here are one byte). */
    static void assertPlainOk(RawMySqlClient.Packet ok, int affected, String info) {
        assertThat(ok.isOk()).as("OK").isTrue();
        byte[] p = ok.payload();
        assertThat(p[1]).as("affected rows").isEqualTo((byte) affected);
        int status = (p[3] & 0xff) | (p[4] & 0xff) << 8;
        assertThat(status & 0x4000).as("SERVER_SESSION_STATE_CHANGED").isZero();
        assertThat(new String(Arrays.copyOfRange(p, 7, p.length), StandardCharsets.UTF_8)).as("info").isEqualTo(info);
    }

    @Test
    void okPacketsWithSessionStateReachAClientWithoutTrackingInThePlainFormat() throws Exception {
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 20_000)) {
            assertThat(c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
            assertPlainOk(c.query("CREATE TABLE IF NOT EXISTS plain_ok (id INT PRIMARY KEY, n INT)"), 0, "");
            assertPlainOk(c.query("REPLACE INTO plain_ok VALUES (1, 0), (2, 0), (3, 0)"), 3,
                    "Records: 3  Duplicates: 0  Warnings: 0");
            assertPlainOk(c.query("BEGIN"), 0, ""); // transaction state reported to the proxy
            assertPlainOk(c.query("UPDATE plain_ok SET n = n + 1 WHERE id <= 2"), 2,
                    "Rows matched: 2  Changed: 2  Warnings: 0");
            assertPlainOk(c.query("SET time_zone = '+02:00'"), 0, ""); // a tracked variable
            assertPlainOk(c.query("COMMIT"), 0, "");
            // the stream is still in step: a result set follows
            RawMySqlClient.Packet columns = c.query("SELECT @@session.time_zone");
            assertThat(columns.payload()).containsExactly(1);
        }
    }
}
