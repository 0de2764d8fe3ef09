package io.tiproxy.proxy;

import io.tiproxy.testkit.RawMySqlClient;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * A raw client socket for {@link FuzzTest}: writes whatever bytes a case wants and reads packets
 * against a deadline, telling a quiet peer (no packet yet) from a closed one. Written apart from the
 * product's codec.
 */
final class FuzzConnection implements AutoCloseable {
    /** The peer closed the connection (orderly or by reset). */
    static final class ClosedException extends IOException {
        ClosedException(String message) {
            super(message);
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;
    private byte[] acc = new byte[1024];
    private int accLen;

    FuzzConnection(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setTcpNoDelay(true);
        in = socket.getInputStream();
        out = socket.getOutputStream();
    }

    /** The next packet, or null when none came before the deadline; {@link ClosedException} when closed. */
    RawMySqlClient.Packet next(long deadlineNanos) throws IOException {
        while (true) {
            RawMySqlClient.Packet p = takePacket();
            if (p != null) {
                return p;
            }
            long left = deadlineNanos - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            socket.setSoTimeout((int) Math.max(1, Math.min(Integer.MAX_VALUE, left / 1_000_000)));
            int n;
            try {
                if (accLen == acc.length) {
                    acc = Arrays.copyOf(acc, acc.length * 2);
                }
                n = in.read(acc, accLen, acc.length - accLen);
            } catch (SocketTimeoutException e) {
                continue;
            } catch (SocketException e) {
                throw new ClosedException("reset: " + e.getMessage());
            }
            if (n < 0) {
                throw new ClosedException(accLen == 0 ? "closed" : "closed with " + accLen + " bytes of a partial packet");
            }
            accLen += n;
        }
    }

    /** The next packet within {@code millis}; fails if none comes. */
    RawMySqlClient.Packet expect(long millis) throws IOException {
        RawMySqlClient.Packet p = next(System.nanoTime() + millis * 1_000_000);
        if (p == null) {
            throw new IOException("no packet within " + millis + " ms");
        }
        return p;
    }

    private RawMySqlClient.Packet takePacket() {
        if (accLen < 4) {
            return null;
        }
        int len = (acc[0] & 0xff) | (acc[1] & 0xff) << 8 | (acc[2] & 0xff) << 16;
        if (accLen < 4 + len) {
            return null;
        }
        RawMySqlClient.Packet p = new RawMySqlClient.Packet(acc[3] & 0xff, Arrays.copyOfRange(acc, 4, 4 + len));
        System.arraycopy(acc, 4 + len, acc, 0, accLen - 4 - len);
        accLen -= 4 + len;
        return p;
    }

    void send(byte[] bytes) throws IOException {
        try {
            out.write(bytes);
            out.flush();
        } catch (SocketException e) {
            throw new ClosedException("write failed: " + e.getMessage());
        }
    }

    /**
     * Logs in with mysql_native_password, following one auth switch.
     *
     * @return the final OK or ERR packet
     */
    RawMySqlClient.Packet login(String user, String password, String db) throws IOException {
        RawMySqlClient.Packet greeting = expect(10_000);
        send(PacketMutator.frame(1, RawMySqlClient.handshakeResponse(user, password, RawMySqlClient.salt(greeting.payload()), db)));
        RawMySqlClient.Packet p = expect(10_000);
        if (p.first() == 0xfe) {
            send(PacketMutator.frame(p.sequenceId() + 1, scramble(password, authSwitchSalt(p.payload()))));
            p = expect(10_000);
        }
        return p;
    }

    /** The 20-byte salt of an AuthSwitchRequest payload (0xFE, plugin name NUL, salt). */
    static byte[] authSwitchSalt(byte[] payload) {
        int nul = 1;
        while (nul < payload.length && payload[nul] != 0) {
            nul++;
        }
        return Arrays.copyOfRange(payload, nul + 1, Math.min(payload.length, nul + 21));
    }

    /** mysql_native_password: SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))). */
    static byte[] scramble(String password, byte[] salt) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-1");
            byte[] h1 = sha.digest(password.getBytes(StandardCharsets.UTF_8));
            byte[] h2 = sha.digest(h1);
            sha.update(salt);
            byte[] mask = sha.digest(h2);
            for (int i = 0; i < h1.length; i++) {
                h1[i] ^= mask[i];
            }
            return h1;
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
