import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark client for bench/idle.sh, built on nothing but the JDK: a minimal MySQL-protocol client
 * (handshake v10, mysql_native_password including an AuthSwitchRequest, COM_QUERY, COM_QUIT).
 *
 * <pre>
 * java -cp bench/.work/classes MySqlBench idle     --port P --sessions N [--threads 16] --hold-file F [--max-hold 600] [--state]
 * java -cp bench/.work/classes MySqlBench connrate --port P --threads N --seconds T
 * </pre>
 * Common options: --host 127.0.0.1 --user app --password app-pass --db test.
 *
 * <p>idle: opens N sessions (connect, log in, SELECT 1 each), prints {@code READY opened=N errors=E ms=...},
 * then holds them until the file F exists (or --max-hold seconds pass), closes them and prints {@code CLOSED}.
 * With --state (bench/drain.sh) every session also sets state a migration must carry (two user variables
 * and {@code time_zone}, distinct per session) and, before closing, reads it back: {@code CHECKED ok=N
 * bad=M errors=E by_port=...} shows that the sessions survived being moved and on which backends they ended.
 * <p>connrate: N threads loop connect + log in + SELECT 1 + COM_QUIT + close for T seconds and print
 * {@code RESULT conns=... errors=... seconds=... rate=... avg_ms=... p99_ms=...}.
 */
public final class MySqlBench {
    private static final int CLIENT_LONG_PASSWORD = 1;
    private static final int CLIENT_LONG_FLAG = 4;
    private static final int CLIENT_CONNECT_WITH_DB = 8;
    private static final int CLIENT_PROTOCOL_41 = 0x200;
    private static final int CLIENT_TRANSACTIONS = 0x2000;
    private static final int CLIENT_SECURE_CONNECTION = 0x8000;
    private static final int CLIENT_MULTI_RESULTS = 0x20000;
    private static final int CLIENT_PLUGIN_AUTH = 0x80000;

    private static String host = "127.0.0.1";
    private static int port = 6000;
    private static String user = "app";
    private static String password = "app-pass";
    private static String db = "test";
    private static boolean withState;

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            usage();
        }
        String mode = args[0];
        int sessions = 1000;
        int threads = mode.equals("idle") ? 16 : 8;
        double seconds = 10;
        String holdFile = null;
        int maxHold = 600;
        for (int i = 1; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--state")) {
                withState = true;
                continue;
            }
            String v = i + 1 < args.length ? args[i + 1] : null;
            if (v == null) {
                usage();
            }
            switch (a) {
                case "--host" -> host = v;
                case "--port" -> port = Integer.parseInt(v);
                case "--user" -> user = v;
                case "--password" -> password = v;
                case "--db" -> db = v;
                case "--sessions" -> sessions = Integer.parseInt(v);
                case "--threads" -> threads = Integer.parseInt(v);
                case "--seconds" -> seconds = Double.parseDouble(v);
                case "--hold-file" -> holdFile = v;
                case "--max-hold" -> maxHold = Integer.parseInt(v);
                default -> usage();
            }
            i++;
        }
        switch (mode) {
            case "idle" -> idle(sessions, threads, holdFile, maxHold);
            case "connrate" -> connRate(threads, seconds);
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: MySqlBench idle --port P --sessions N [--threads 16] --hold-file F [--max-hold 600] [--state]");
        System.err.println("       MySqlBench connrate --port P --threads N --seconds T");
        System.exit(2);
    }

    // ---------------------------------------------------------------- idle sessions

    private static void idle(int sessions, int threads, String holdFile, int maxHold) throws Exception {
        if (holdFile == null) {
            usage();
        }
        ConcurrentLinkedQueue<Conn> open = new ConcurrentLinkedQueue<>();
        AtomicInteger next = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        ConcurrentLinkedQueue<String> messages = new ConcurrentLinkedQueue<>();
        long t0 = System.nanoTime();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            Thread th = new Thread(() -> {
                for (int id = next.getAndIncrement(); id < sessions; id = next.getAndIncrement()) {
                    Conn c = null;
                    try {
                        c = Conn.open(30_000);
                        c.selectOne();
                        if (withState) {
                            SessionState.set(c, id);
                        }
                        open.add(c);
                    } catch (IOException | RuntimeException e) {
                        errors.incrementAndGet();
                        if (messages.size() < 5) {
                            messages.add(e.toString());
                        }
                        if (c != null) {
                            c.closeQuietly();
                        }
                    }
                }
            });
            th.start();
            workers.add(th);
        }
        for (Thread th : workers) {
            th.join();
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        for (String m : messages) {
            System.out.println("ERROR " + m);
        }
        System.out.println("READY opened=" + open.size() + " errors=" + errors.get() + " ms=" + ms);
        System.out.flush();
        Path hold = Path.of(holdFile);
        long deadline = System.nanoTime() + maxHold * 1_000_000_000L;
        while (!Files.exists(hold) && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        // the sessions are still alive? (a proxy must not drop idle sessions)
        int alive = 0;
        List<Conn> live = new ArrayList<>();
        for (Conn c : open) {
            if (c.stillOpen()) {
                alive++;
                live.add(c);
            }
        }
        if (withState) {
            SessionState.checkAll(live);
        }
        for (Conn c : open) {
            c.quit();
        }
        System.out.println("CLOSED alive_before_close=" + alive);
    }

    // ---------------------------------------------------------------- connection rate

    private static void connRate(int threads, double seconds) throws Exception {
        AtomicLong conns = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        ConcurrentLinkedQueue<String> messages = new ConcurrentLinkedQueue<>();
        long[][] latencies = new long[threads][];
        int[] counts = new int[threads];
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            final int idx = t;
            Thread th = new Thread(() -> {
                long[] lat = new long[1 << 16];
                int n = 0;
                while (System.nanoTime() < deadline) {
                    long s = System.nanoTime();
                    Conn c = null;
                    try {
                        c = Conn.open(10_000);
                        c.selectOne();
                        c.quit();
                        c = null;
                        conns.incrementAndGet();
                        if (n == lat.length) {
                            lat = Arrays.copyOf(lat, n * 2);
                        }
                        lat[n++] = System.nanoTime() - s;
                    } catch (IOException | RuntimeException e) {
                        errors.incrementAndGet();
                        if (messages.size() < 5) {
                            messages.add(e.toString());
                        }
                        if (c != null) {
                            c.closeQuietly();
                        }
                    }
                }
                latencies[idx] = lat;
                counts[idx] = n;
            });
            th.start();
            workers.add(th);
        }
        for (Thread th : workers) {
            th.join();
        }
        double elapsed = (System.nanoTime() - start) / 1e9;
        int total = 0;
        for (int c : counts) {
            total += c;
        }
        long[] all = new long[total];
        int p = 0;
        for (int t = 0; t < threads; t++) {
            System.arraycopy(latencies[t], 0, all, p, counts[t]);
            p += counts[t];
        }
        Arrays.sort(all);
        double avg = total == 0 ? 0 : Arrays.stream(all).average().orElse(0) / 1e6;
        double p99 = total == 0 ? 0 : all[Math.min(total - 1, (int) Math.ceil(total * 0.99) - 1)] / 1e6;
        for (String m : messages) {
            System.out.println("ERROR " + m);
        }
        System.out.printf(Locale.ROOT, "RESULT conns=%d errors=%d seconds=%.2f rate=%.1f avg_ms=%.3f p99_ms=%.3f%n",
                conns.get(), errors.get(), elapsed, conns.get() / elapsed, avg, p99);
    }

    // ---------------------------------------------------------------- protocol

    /** Sets the login used by {@link Conn#open(String, int, int)} (for other tools in bench/java). */
    static void login(String loginUser, String loginPassword, String loginDb) {
        user = loginUser;
        password = loginPassword;
        db = loginDb;
    }

    /** One blocking MySQL session. */
    static final class Conn {
        private final Socket socket;
        private final InputStream in;
        private final OutputStream out;
        private int seq;
        /** The session's number in its run (idle --state), -1 if none. */
        int benchId = -1;

        private Conn(Socket socket) throws IOException {
            this.socket = socket;
            this.in = new BufferedInputStream(socket.getInputStream(), 1024);
            this.out = socket.getOutputStream();
        }

        static Conn open(int timeoutMs) throws IOException {
            return open(host, port, timeoutMs);
        }

        static Conn open(String toHost, int toPort, int timeoutMs) throws IOException {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.setSoTimeout(timeoutMs);
                s.connect(new InetSocketAddress(toHost, toPort), timeoutMs);
                Conn c = new Conn(s);
                c.login();
                return c;
            } catch (IOException | RuntimeException e) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing after a failure
                }
                throw e;
            }
        }

        private void login() throws IOException {
            byte[] greeting = readPacket();
            if ((greeting[0] & 0xff) == 0xff) {
                throw new IOException("greeting is an error: " + errorText(greeting));
            }
            if (greeting[0] != 10) {
                throw new IOException("unexpected protocol version " + greeting[0]);
            }
            int p = 1;
            while (greeting[p] != 0) {
                p++;
            }
            p++; // server version
            p += 4; // connection id
            byte[] salt1 = Arrays.copyOfRange(greeting, p, p + 8);
            p += 8 + 1;
            int caps = u16(greeting, p);
            p += 2 + 1 + 2; // caps low, charset, status
            caps |= u16(greeting, p) << 16;
            p += 2;
            int authLen = greeting[p] & 0xff;
            p += 1 + 10;
            byte[] salt = salt1;
            if ((caps & CLIENT_SECURE_CONNECTION) != 0) {
                int n2 = Math.max(13, authLen - 8) - 1; // without the trailing NUL
                byte[] salt2 = Arrays.copyOfRange(greeting, p, p + n2);
                salt = concat(salt1, salt2);
                p += n2 + 1;
            }
            String plugin = "mysql_native_password";
            if ((caps & CLIENT_PLUGIN_AUTH) != 0 && p < greeting.length) {
                int e = p;
                while (e < greeting.length && greeting[e] != 0) {
                    e++;
                }
                plugin = new String(greeting, p, e - p, StandardCharsets.US_ASCII);
            }
            int clientCaps = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41
                    | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH;
            clientCaps &= caps | CLIENT_LONG_PASSWORD;
            byte[] auth = plugin.equals("mysql_native_password") ? scramble(password, salt) : new byte[0];
            byte[] u = user.getBytes(StandardCharsets.UTF_8);
            byte[] d = db.getBytes(StandardCharsets.UTF_8);
            byte[] pl = "mysql_native_password".getBytes(StandardCharsets.US_ASCII);
            byte[] resp = new byte[4 + 4 + 1 + 23 + u.length + 1 + 1 + auth.length + d.length + 1 + pl.length + 1];
            int q = 0;
            q = le32(resp, q, clientCaps);
            q = le32(resp, q, 16 * 1024 * 1024);
            resp[q++] = 45; // utf8mb4_general_ci
            q += 23;
            System.arraycopy(u, 0, resp, q, u.length);
            q += u.length + 1;
            resp[q++] = (byte) auth.length;
            System.arraycopy(auth, 0, resp, q, auth.length);
            q += auth.length;
            System.arraycopy(d, 0, resp, q, d.length);
            q += d.length + 1;
            System.arraycopy(pl, 0, resp, q, pl.length);
            writePacket(resp, seq + 1);
            while (true) {
                byte[] r = readPacket();
                int h = r[0] & 0xff;
                if (h == 0x00) {
                    return;
                }
                if (h == 0xff) {
                    throw new IOException("login failed: " + errorText(r));
                }
                if (h == 0xfe) { // AuthSwitchRequest: plugin NUL salt [NUL]
                    int e = 1;
                    while (e < r.length && r[e] != 0) {
                        e++;
                    }
                    String wanted = new String(r, 1, e - 1, StandardCharsets.US_ASCII);
                    if (!wanted.equals("mysql_native_password")) {
                        throw new IOException("unsupported auth plugin " + wanted);
                    }
                    int end = r.length;
                    if (end > e + 1 && r[end - 1] == 0) {
                        end--;
                    }
                    byte[] newSalt = Arrays.copyOfRange(r, e + 1, end);
                    writePacket(scramble(password, newSalt), seq + 1);
                    continue;
                }
                throw new IOException("unexpected login packet 0x" + Integer.toHexString(h));
            }
        }

        void selectOne() throws IOException {
            byte[] sql = "SELECT 1".getBytes(StandardCharsets.US_ASCII);
            byte[] cmd = new byte[1 + sql.length];
            cmd[0] = 0x03;
            System.arraycopy(sql, 0, cmd, 1, sql.length);
            writePacket(cmd, 0);
            byte[] first = readPacket();
            int h = first[0] & 0xff;
            if (h == 0xff) {
                throw new IOException("SELECT 1 failed: " + errorText(first));
            }
            if (h == 0x00) {
                return;
            }
            int columns = h; // < 251 here
            for (int i = 0; i < columns; i++) {
                readPacket();
            }
            byte[] eof = readPacket();
            if ((eof[0] & 0xff) != 0xfe) {
                throw new IOException("expected EOF after column definitions");
            }
            while (true) {
                byte[] row = readPacket();
                int r = row[0] & 0xff;
                if (r == 0xfe && row.length < 9) {
                    return;
                }
                if (r == 0xff) {
                    throw new IOException("SELECT 1 failed while reading rows: " + errorText(row));
                }
            }
        }

        /**
         * Runs one text-protocol statement; returns the rows of its result set (empty after an OK), each
         * column as a string (null for SQL NULL). The whole result is read before returning.
         */
        List<String[]> query(String sql) throws IOException {
            byte[] text = sql.getBytes(StandardCharsets.UTF_8);
            byte[] cmd = new byte[1 + text.length];
            cmd[0] = 0x03;
            System.arraycopy(text, 0, cmd, 1, text.length);
            writePacket(cmd, 0);
            byte[] first = readPacket();
            int h = first[0] & 0xff;
            if (h == 0xff) {
                throw new IOException("'" + sql + "' failed: " + errorText(first));
            }
            List<String[]> rows = new ArrayList<>();
            if (h == 0x00) {
                return rows;
            }
            int columns = (int) lenenc(first, new int[] {0});
            for (int i = 0; i < columns; i++) {
                readPacket();
            }
            if ((readPacket()[0] & 0xff) != 0xfe) {
                throw new IOException("expected EOF after column definitions of '" + sql + "'");
            }
            while (true) {
                byte[] row = readPacket();
                int r = row[0] & 0xff;
                if (r == 0xfe && row.length < 9) {
                    return rows;
                }
                if (r == 0xff) {
                    throw new IOException("'" + sql + "' failed while reading rows: " + errorText(row));
                }
                String[] values = new String[columns];
                int[] pos = {0};
                for (int i = 0; i < columns; i++) {
                    if ((row[pos[0]] & 0xff) == 0xfb) {
                        pos[0]++;
                        continue; // NULL
                    }
                    int len = (int) lenenc(row, pos);
                    values[i] = new String(row, pos[0], len, StandardCharsets.UTF_8);
                    pos[0] += len;
                }
                rows.add(values);
            }
        }

        /** Whether the peer has not closed the session (no data and no EOF waiting). */
        boolean stillOpen() {
            try {
                if (in.available() > 0) {
                    return false; // an unsolicited packet (error) arrived
                }
                socket.setSoTimeout(1);
                try {
                    int b = in.read();
                    return false; // data or EOF (-1)
                } catch (java.net.SocketTimeoutException e) {
                    return true;
                } finally {
                    socket.setSoTimeout(30_000);
                }
            } catch (IOException e) {
                return false;
            }
        }

        void quit() {
            try {
                writePacket(new byte[] {0x01}, 0);
            } catch (IOException ignored) {
                // the session is ending anyway
            }
            closeQuietly();
        }

        void closeQuietly() {
            try {
                socket.close();
            } catch (IOException ignored) {
                // nothing to do
            }
        }

        private byte[] readPacket() throws IOException {
            int b0 = in.read();
            int b1 = in.read();
            int b2 = in.read();
            int s = in.read();
            if ((b0 | b1 | b2 | s) < 0) {
                throw new EOFException("connection closed by the server");
            }
            seq = s;
            int len = b0 | (b1 << 8) | (b2 << 16);
            byte[] p = new byte[len];
            int off = 0;
            while (off < len) {
                int n = in.read(p, off, len - off);
                if (n < 0) {
                    throw new EOFException("connection closed by the server inside a packet");
                }
                off += n;
            }
            if (len == 0) {
                throw new IOException("empty packet");
            }
            return p;
        }

        private void writePacket(byte[] payload, int sequence) throws IOException {
            byte[] b = new byte[4 + payload.length];
            b[0] = (byte) payload.length;
            b[1] = (byte) (payload.length >>> 8);
            b[2] = (byte) (payload.length >>> 16);
            b[3] = (byte) sequence;
            System.arraycopy(payload, 0, b, 4, payload.length);
            out.write(b);
            out.flush();
            seq = sequence;
        }
    }

    static byte[] scramble(String password, byte[] salt) {
        if (password.isEmpty()) {
            return new byte[0];
        }
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            byte[] h1 = sha1.digest(password.getBytes(StandardCharsets.UTF_8));
            byte[] h2 = sha1.digest(h1);
            sha1.update(salt);
            byte[] h3 = sha1.digest(h2);
            byte[] out = new byte[h1.length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (byte) (h1[i] ^ h3[i]);
            }
            return out;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String errorText(byte[] err) {
        int code = u16(err, 1);
        int p = 3;
        if (err.length > 3 && err[3] == '#') {
            p = 9;
        }
        return code + " " + new String(err, Math.min(p, err.length), Math.max(0, err.length - p), StandardCharsets.UTF_8);
    }

    /** A length-encoded integer at {@code pos[0]}; advances {@code pos[0]} past it. */
    static long lenenc(byte[] b, int[] pos) {
        int p = pos[0];
        int first = b[p] & 0xff;
        if (first < 0xfb) {
            pos[0] = p + 1;
            return first;
        }
        int bytes = switch (first) {
            case 0xfc -> 2;
            case 0xfd -> 3;
            case 0xfe -> 8;
            default -> throw new IllegalArgumentException("not a length-encoded integer: 0x" + Integer.toHexString(first));
        };
        long v = 0;
        for (int i = 0; i < bytes; i++) {
            v |= (long) (b[p + 1 + i] & 0xff) << (8 * i);
        }
        pos[0] = p + 1 + bytes;
        return v;
    }

    private static int u16(byte[] b, int p) {
        return (b[p] & 0xff) | (b[p + 1] & 0xff) << 8;
    }

    private static int le32(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
        b[p + 2] = (byte) (v >>> 16);
        b[p + 3] = (byte) (v >>> 24);
        return p + 4;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
