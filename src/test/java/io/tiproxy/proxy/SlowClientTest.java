package io.tiproxy.proxy;

import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetric;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.io.IOException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Clients that are slow on purpose. One trickles its handshake a byte at a time and must still be cut
 * at the handshake timeout. Two others ask for a ~200 MB result and then stop reading or read it one
 * byte at a time: the proxy must stop reading their backends while their client sockets are full
 * (backpressure), so that it buffers a few MB and not the result, while a bystander on the same event
 * loops goes on; when they read again, every byte arrives intact.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class SlowClientTest {
    static final int ROWS = 200_000;
    static final int ROW_CHARS = 1000;
    /** About 200 MB of rows; each row says which it is, so a lost or repeated byte shows. */
    static final String BIG_RESULT = "SELECT seq, REPEAT(CHAR(65 + seq % 26), " + ROW_CHARS + ") FROM seq_1_to_" + ROWS;
    /** What the proxy may hold for two stalled sessions: a few MB each, nowhere near their 400 MB. */
    static final long MAX_BUFFERED_BYTES = 32L << 20;

    static TestProxy proxy;

    @BeforeAll
    static void start() {
        proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "  handshake-timeout: \"2s\"\n", "");
    }

    @AfterAll
    static void stop() {
        proxy.close();
    }

    @Test
    @Timeout(60)
    void aHandshakeTrickledByteByByteIsCutAtTheHandshakeTimeout() throws Exception {
        int sessionsBefore = proxy.server().registry().size();
        try (FuzzConnection c = new FuzzConnection(proxy.port())) {
            c.expect(10_000); // greeting
            long start = System.nanoTime();
            c.send(RawMySqlClient.header(200, 1));
            RawMySqlClient.Packet answer = null;
            boolean closed = false;
            int sent = 0;
            while (answer == null && !closed && System.nanoTime() - start < 30_000_000_000L) {
                try {
                    c.send(new byte[] {'x'});
                    sent++;
                    answer = c.next(System.nanoTime() + 100_000_000L);
                } catch (FuzzConnection.ClosedException e) {
                    closed = true;
                }
            }
            long seconds = (System.nanoTime() - start) / 1_000_000_000L;
            assertThat(sent).as("bytes trickled before the proxy ended it").isLessThan(200);
            assertThat(seconds).as("seconds until the proxy ended a 2 s handshake").isLessThan(15);
            if (answer != null) {
                assertThat(answer.isErr()).isTrue();
                assertThat(answer.errorCode()).isEqualTo(1043);
                assertThat(answer.errorMessage()).contains("timed out");
            }
        }
        Bystander.awaitAtMost("sessions after the trickled handshake", () -> proxy.server().registry().size(),
                sessionsBefore, Duration.ofSeconds(10));
    }

    @Test
    @Timeout(240)
    void stalledAndTricklingReadersHoldTheirBackendsBackInsteadOfFillingTheProxy() throws Exception {
        try (LeakCheck leakCheck = LeakCheck.start();
             Bystander bystander = Bystander.start(proxy, Duration.ofMillis(20));
             SlowReader stalled = new SlowReader(proxy.port(), 16 * 1024);
             SlowReader trickler = new SlowReader(proxy.port(), 16 * 1024)) {
            leakCheck.assertDetectorWorks();
            assertThat(stalled.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
            assertThat(trickler.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, TestAccounts.DATABASE).isOk()).isTrue();
            long before = proxyBufferBytes();
            stalled.sendQuery(BIG_RESULT);
            trickler.sendQuery(BIG_RESULT);

            // 6 s in which the backends could send all 400 MB; the stalled client reads nothing, the other a byte every 2 ms
            long peak = before;
            int trickled = 0;
            int bystanderBefore = bystander.queries();
            long end = System.nanoTime() + 6_000_000_000L;
            while (System.nanoTime() < end) {
                for (int i = 0; i < 50; i++) {
                    assertThat(trickler.trickleOneByte()).isNotNegative();
                    trickled++;
                    Thread.sleep(2);
                }
                peak = Math.max(peak, proxyBufferBytes());
            }
            System.out.println("SlowClientTest: proxy buffers " + (before >> 10) + " KiB before, peak " + (peak >> 10)
                    + " KiB while stalled; " + trickled + " bytes trickled; bystander ran "
                    + (bystander.queries() - bystanderBefore) + " queries meanwhile");
            assertThat(peak - before).as("bytes the proxy buffered for two stalled ~200 MB results")
                    .isLessThan(MAX_BUFFERED_BYTES);
            assertThat(runningBigResults()).as("big results still being sent by their backends (held back)").isEqualTo(2);
            assertThat(bystander.queries()).as("bystander queries during the stall").isGreaterThan(bystanderBefore);

            assertWholeResult(stalled);
            assertWholeResult(trickler);
            for (SlowReader reader : new SlowReader[] {stalled, trickler}) {
                reader.sendQuery("SELECT 6 * 7");
                assertThat(reader.next().payload()).containsExactly(1);
            }
            bystander.stopAndAssertUnharmed();
            assertThat(leakCheck.leaks()).as("ByteBuf leaks").isEmpty();
        }
    }

    /** Reads a whole BIG_RESULT (classic EOF framing) and checks every row. */
    private static void assertWholeResult(SlowReader reader) throws IOException {
        assertThat(reader.next().payload()).as("column count").containsExactly(2);
        reader.next();
        reader.next();
        assertThat(reader.next().first()).as("EOF after the column definitions").isEqualTo(0xfe);
        for (int seq = 1; seq <= ROWS; seq++) {
            byte[] row = reader.next().payload();
            String id = String.valueOf(seq);
            int p = 1 + id.length();
            assertThat(row[0]).isEqualTo((byte) id.length());
            assertThat(new String(row, 1, id.length(), java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo(id);
            assertThat(row[p] & 0xff).as("row " + seq + ": 2-byte length prefix").isEqualTo(0xfc);
            assertThat((row[p + 1] & 0xff) | (row[p + 2] & 0xff) << 8).isEqualTo(ROW_CHARS);
            byte expected = (byte) ('A' + seq % 26);
            for (int i = p + 3; i < row.length; i++) {
                if (row[i] != expected) {
                    throw new AssertionError("row " + seq + " byte " + i + " is " + row[i] + ", expected " + expected);
                }
            }
            assertThat(row.length).isEqualTo(p + 3 + ROW_CHARS);
        }
        RawMySqlClient.Packet eof = reader.next();
        assertThat(eof.first()).as("EOF after " + ROWS + " rows").isEqualTo(0xfe);
        assertThat(eof.payload().length).isLessThan(9);
    }

    /** Bytes the JVM's default Netty allocator (the in-process proxy's) has in use, direct and heap. */
    private static long proxyBufferBytes() {
        ByteBufAllocatorMetric m = ((ByteBufAllocatorMetricProvider) ByteBufAllocator.DEFAULT).metric();
        return m.usedDirectMemory() + m.usedHeapMemory();
    }

    /** How many BIG_RESULT statements the shared backends are running now. */
    private static int runningBigResults() throws SQLException {
        int n = 0;
        for (MariaDbServer server : MariaDbCluster.shared().servers()) {
            try (Connection c = server.rootConnection(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                         + "WHERE ID <> CONNECTION_ID() AND INFO LIKE '%seq_1_to_" + ROWS + "%'")) {
                rs.next();
                n += rs.getInt(1);
            }
        }
        return n;
    }
}
