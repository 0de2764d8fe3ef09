package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.RawMySqlClient.Packet;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Packets of 16 MiB and more in both directions, with a client that does not use CLIENT_DEPRECATE_EOF
 * (the drivers' tests cover the deprecate-EOF side): the proxy frames and forwards them unchanged.
 */
class LargePacketTest {
    static TestProxy proxy;

    @BeforeAll
    static void start() {
        MariaDbCluster.shared().servers().forEach(s -> s.execAsAdmin("SET GLOBAL max_allowed_packet=67108864"));
        proxy = TestProxy.start(MariaDbCluster.shared().addresses());
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    /** Reads a logical packet, joining 16 MiB frames. */
    static byte[] readLogical(RawMySqlClient c) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Packet p;
        do {
            p = c.read();
            out.writeBytes(p.payload());
        } while (p.payload().length == 0xFFFFFF);
        return out.toByteArray();
    }

    @Test
    void seventeenMebibytesEachWayWithClassicEof() throws Exception {
        int n = 17 * 1024 * 1024 + 3;
        try (RawMySqlClient c = new RawMySqlClient(proxy.port(), 60_000)) {
            assertThat(c.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();

            // server -> client: a 17 MiB row, split by the server into a full frame and a continuation
            Packet count = c.query("SELECT REPEAT('x', " + n + ")");
            assertThat(count.payload()).containsExactly(1);
            c.read(); // column definition
            Packet eof = c.read();
            assertThat(eof.first()).isEqualTo(0xfe);
            assertThat(eof.payload().length).isLessThan(9);
            byte[] row = readLogical(c);
            // length-encoded with an 8-byte length: the row starts with 0xFE, like an EOF, but is 17 MiB long
            assertThat(row[0] & 0xff).isEqualTo(0xfe);
            long len = java.nio.ByteBuffer.wrap(row, 1, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
            assertThat(len).isEqualTo(n);
            assertThat(row.length).isEqualTo(9 + n);
            assertThat(c.read().first()).isEqualTo(0xfe);

            // client -> server: a 17 MiB statement the client splits itself
            byte[] filler = new byte[n];
            Arrays.fill(filler, (byte) 'y');
            byte[] sql = ("SELECT LENGTH('" + new String(filler, StandardCharsets.US_ASCII) + "')").getBytes(StandardCharsets.US_ASCII);
            byte[] payload = new byte[sql.length + 1];
            payload[0] = 0x03;
            System.arraycopy(sql, 0, payload, 1, sql.length);
            int seq = 0;
            int off = 0;
            while (true) {
                int chunk = Math.min(0xFFFFFF, payload.length - off);
                c.writeRaw(RawMySqlClient.header(chunk, seq++));
                c.writeRaw(Arrays.copyOfRange(payload, off, off + chunk));
                off += chunk;
                if (chunk < 0xFFFFFF) {
                    break;
                }
            }
            assertThat(c.read().payload()).containsExactly(1);
            c.read();
            c.read(); // EOF after the definitions
            byte[] value = c.read().payload();
            assertThat(new String(value, 1, value.length - 1, StandardCharsets.US_ASCII)).isEqualTo(String.valueOf(n));
            assertThat(c.read().first()).isEqualTo(0xfe);

            // and the session goes on
            assertThat(c.query("SELECT 1").payload()).containsExactly(1);
        }
    }
}
