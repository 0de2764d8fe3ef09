package io.tiproxy.proxy;

import io.tiproxy.testkit.RawMySqlClient;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A client that reads at its own pace: with a small socket receive buffer, it can stop reading a result
 * or take it one byte at a time, and later read the rest at full speed and check it. Plain sockets,
 * apart from the product's codec (classic EOF packets: no CLIENT_DEPRECATE_EOF).
 */
final class SlowReader implements AutoCloseable {
    private final Socket socket;
    private final InputStream raw;
    private final OutputStream out;
    /** Bytes taken one at a time so far; they come first when the rest is read. */
    private final ByteArrayOutputStream trickled = new ByteArrayOutputStream();
    private DataInputStream fast;

    SlowReader(int port, int receiveBufferBytes) throws IOException {
        socket = new Socket();
        socket.setReceiveBufferSize(receiveBufferBytes);
        socket.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
        socket.setSoTimeout(60_000);
        raw = socket.getInputStream();
        out = socket.getOutputStream();
    }

    RawMySqlClient.Packet login(String user, String password, String db) throws IOException {
        DataInputStream in = new DataInputStream(raw); // unbuffered: reads nothing beyond each packet
        RawMySqlClient.Packet greeting = read(in);
        write(1, RawMySqlClient.handshakeResponse(user, password, RawMySqlClient.salt(greeting.payload()), db));
        RawMySqlClient.Packet p = read(in);
        if (p.first() == 0xfe) {
            write(p.sequenceId() + 1, FuzzConnection.scramble(password, FuzzConnection.authSwitchSalt(p.payload())));
            p = read(in);
        }
        return p;
    }

    void sendQuery(String sql) throws IOException {
        byte[] q = sql.getBytes(StandardCharsets.UTF_8);
        byte[] payload = new byte[q.length + 1];
        payload[0] = 0x03;
        System.arraycopy(q, 0, payload, 1, q.length);
        write(0, payload);
    }

    /** Takes one byte of what the proxy sent; -1 at the end of the stream. */
    int trickleOneByte() throws IOException {
        int b = raw.read();
        if (b >= 0) {
            trickled.write(b);
        }
        return b;
    }

    /** Reads the next packet at full speed, after the trickled bytes. */
    RawMySqlClient.Packet next() throws IOException {
        if (fast == null) {
            fast = new DataInputStream(new SequenceInputStream(new ByteArrayInputStream(trickled.toByteArray()),
                    new BufferedInputStream(raw, 1 << 16)));
        }
        return read(fast);
    }

    private static RawMySqlClient.Packet read(DataInputStream in) throws IOException {
        byte[] header = new byte[4];
        in.readFully(header);
        int len = (header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16;
        byte[] payload = new byte[len];
        in.readFully(payload);
        return new RawMySqlClient.Packet(header[3] & 0xff, payload);
    }

    private void write(int seq, byte[] payload) throws IOException {
        out.write(PacketMutator.frame(seq, payload));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
