package io.tiproxy.proxy;

import io.tiproxy.testkit.RawMySqlClient;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The client side of {@link ConnectionStormTest}, in a JVM of its own so that its sockets do not count
 * against the open-files limit of the JVM the proxy runs in. Opens {@code total} connections to the
 * proxy, each left in one of the states below, prints {@code OPEN <opened> <failed> <logins>}, waits
 * for {@code DROP} on stdin, then drops them all at once (half with a reset) and prints {@code DROPPED}.
 *
 * <p>Kinds, by connection number modulo 20: 0-7 connected and silent (not even reading the greeting);
 * 8-11 greeting read; 12-14 half a handshake response sent; 15 garbage sent (the proxy ends those
 * itself); 16 logged in, idle; 17 logged in with a statement sent and its result not read; 18-19
 * greeting read and dropped at once (a client giving up early).
 */
public final class ConnectionStormClient {
    static final int KINDS = 20;

    private ConnectionStormClient() {
    }

    /** Whether connection {@code i} logs in (and so holds a backend connection). */
    static boolean logsIn(int i) {
        int kind = i % KINDS;
        return kind == 16 || kind == 17;
    }

    /** Whether connection {@code i} is still open on the proxy when the client reports OPEN. */
    static boolean heldUntilDrop(int i) {
        int kind = i % KINDS;
        return kind != 15 && kind != 18 && kind != 19;
    }

    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        int total = Integer.parseInt(args[1]);
        String user = args[2];
        String password = args[3];
        String db = args[4];
        AutoCloseable[] open = new AutoCloseable[total];
        List<String> failures = new CopyOnWriteArrayList<>();
        AtomicInteger logins = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(16);
        for (int i = 0; i < total; i++) {
            int n = i;
            pool.execute(() -> {
                try {
                    open[n] = openOne(n, port, user, password, db, logins);
                } catch (Exception e) {
                    failures.add(n + ": " + e);
                }
            });
        }
        pool.shutdown();
        if (!pool.awaitTermination(10, TimeUnit.MINUTES)) {
            failures.add("opening did not finish in 10 minutes");
        }
        long opened = Arrays.stream(open).filter(c -> c != null).count();
        failures.stream().limit(5).forEach(f -> System.out.println("FAILED " + f));
        System.out.println("OPEN " + opened + " " + failures.size() + " " + logins.get());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null && !line.equals("DROP")) {
            // wait for the test
        }
        int dropped = 0;
        for (int i = 0; i < total; i++) {
            if (open[i] instanceof Socket s && i % 2 == 0) {
                s.setSoLinger(true, 0); // reset instead of an orderly close
            }
            if (open[i] != null) {
                open[i].close();
                dropped++;
            }
        }
        System.out.println("DROPPED " + dropped);
        System.out.flush();
    }

    private static AutoCloseable openOne(int i, int port, String user, String password, String db, AtomicInteger logins)
            throws IOException {
        int kind = i % KINDS;
        if (logsIn(i)) {
            RawMySqlClient c = new RawMySqlClient(port, 120_000);
            RawMySqlClient.Packet ok = c.login(user, password, db);
            if (!ok.isOk()) {
                c.close();
                throw new IOException("login refused: " + (ok.isErr() ? ok.errorMessage() : "0x" + Integer.toHexString(ok.first())));
            }
            logins.incrementAndGet();
            if (kind == 17) {
                // ~110 KB: fits in the socket buffers, so the backend finishes sending it (a result it could
                // not finish sending would end after its net_write_timeout, before the drop)
                byte[] sql = "SELECT seq, REPEAT('z', 100) FROM seq_1_to_1000".getBytes(StandardCharsets.US_ASCII);
                byte[] payload = new byte[sql.length + 1];
                payload[0] = 0x03;
                System.arraycopy(sql, 0, payload, 1, sql.length);
                c.write(0, payload);
            }
            return c;
        }
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", port), 60_000);
        s.setSoTimeout(120_000);
        if (kind < 8) {
            return s;
        }
        DataInputStream in = new DataInputStream(s.getInputStream());
        byte[] header = new byte[4];
        in.readFully(header);
        in.readFully(new byte[(header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16]);
        if (kind >= 12 && kind <= 14) {
            s.getOutputStream().write(RawMySqlClient.header(80, 1));
            s.getOutputStream().write(new byte[30]);
        } else if (kind == 15) {
            s.getOutputStream().write(new byte[] {5, 0, 0, 1, (byte) 0xde, (byte) 0xad, (byte) 0xbe, (byte) 0xef, 0});
        } else if (kind >= 18) {
            s.close();
            return null;
        }
        return s;
    }
}
