package io.tiproxy.testkit;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * A deliberately simple MySQL client over a plain socket, written independently of the product's codec,
 * for sending the proxy exactly the bytes a test wants (including broken ones).
 */
public final class RawMySqlClient implements AutoCloseable {
    /** A packet as received. */
    public record Packet(int sequenceId, byte[] payload) {
        public int first() {
            return payload.length == 0 ? -1 : payload[0] & 0xff;
        }

        public boolean isErr() {
            return first() == 0xff;
        }

        public boolean isOk() {
            return first() == 0x00;
        }

        public int errorCode() {
            return (payload[1] & 0xff) | (payload[2] & 0xff) << 8;
        }

        public String errorMessage() {
            int skip = payload.length > 3 && payload[3] == '#' ? 9 : 3;
            return new String(payload, skip, payload.length - skip, StandardCharsets.UTF_8);
        }
    }

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    public RawMySqlClient(int port, int readTimeoutMillis) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(readTimeoutMillis);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    public Packet read() throws IOException {
        byte[] header = new byte[4];
        in.readFully(header);
        int len = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16;
        byte[] payload = new byte[len];
        in.readFully(payload);
        return new Packet(header[3] & 0xff, payload);
    }

    /** True if the server closed the connection (EOF on read). */
    public boolean isClosedByPeer() throws IOException {
        try {
            return in.read() < 0;
        } catch (java.net.SocketException e) {
            return true;
        }
    }

    public void write(int seq, byte[] payload) throws IOException {
        writeRaw(header(payload.length, seq));
        writeRaw(payload);
    }

    public void writeRaw(byte[] bytes) throws IOException {
        out.write(bytes);
        out.flush();
    }

    public static byte[] header(int len, int seq) {
        return new byte[] {(byte) len, (byte) (len >> 8), (byte) (len >> 16), (byte) seq};
    }

    /** The 20-byte salt of a greeting. */
    public static byte[] salt(byte[] greeting) {
        int p = 1;
        while (greeting[p] != 0) {
            p++;
        }
        p += 1 + 4;
        byte[] salt = new byte[20];
        System.arraycopy(greeting, p, salt, 0, 8);
        p += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
        System.arraycopy(greeting, p, salt, 8, 12);
        return salt;
    }

    /** A HandshakeResponse41 for mysql_native_password. */
    public static byte[] handshakeResponse(String user, String password, byte[] salt, String db) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int caps = 0x0200 | 0x8000 | 0x80000 | 0x20000 | 0x10000 | 0x2000 | (db != null ? 0x8 : 0) | 0x1;
        writeInt4(b, caps);
        writeInt4(b, 16 * 1024 * 1024);
        b.write(45);
        b.writeBytes(new byte[23]);
        b.writeBytes(user.getBytes(StandardCharsets.UTF_8));
        b.write(0);
        byte[] scramble = scramble(password, salt);
        b.write(scramble.length);
        b.writeBytes(scramble);
        if (db != null) {
            b.writeBytes(db.getBytes(StandardCharsets.UTF_8));
            b.write(0);
        }
        b.writeBytes("mysql_native_password".getBytes(StandardCharsets.UTF_8));
        b.write(0);
        return b.toByteArray();
    }

    static byte[] scramble(String password, byte[] salt) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-1");
            byte[] h1 = sha.digest(password.getBytes(StandardCharsets.UTF_8));
            byte[] h2 = sha.digest(h1);
            sha.update(salt);
            byte[] mask = sha.digest(h2);
            byte[] out = new byte[20];
            for (int i = 0; i < 20; i++) {
                out[i] = (byte) (h1[i] ^ mask[i]);
            }
            return out;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Logs in with mysql_native_password, following one auth switch; returns the final OK/ERR packet. */
    public Packet login(String user, String password, String db) throws IOException {
        Packet greeting = read();
        write(1, handshakeResponse(user, password, salt(greeting.payload()), db));
        Packet p = read();
        if (p.first() == 0xfe) {
            byte[] pl = p.payload();
            int nul = 1;
            while (pl[nul] != 0) {
                nul++;
            }
            byte[] salt = Arrays.copyOfRange(pl, nul + 1, nul + 21);
            write(p.sequenceId() + 1, scramble(password, salt));
            p = read();
        }
        return p;
    }

    /** Sends COM_QUERY and reads the first response packet. */
    public Packet query(String sql) throws IOException {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        byte[] payload = new byte[q.length + 1];
        payload[0] = 0x03;
        System.arraycopy(q, 0, payload, 1, q.length);
        write(0, payload);
        return read();
    }

    private static void writeInt4(ByteArrayOutputStream b, int v) {
        b.write(v);
        b.write(v >> 8);
        b.write(v >> 16);
        b.write(v >> 24);
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }

    public static void expectClosed(RawMySqlClient c) throws IOException {
        try {
            if (!c.isClosedByPeer()) {
                throw new AssertionError("connection still open");
            }
        } catch (EOFException e) {
            // closed
        }
    }
}
