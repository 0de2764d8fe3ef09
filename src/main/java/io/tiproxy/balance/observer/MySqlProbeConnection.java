package io.tiproxy.balance.observer;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.tiproxy.protocol.AuthSwitchRequest;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.protocol.Command;
import io.tiproxy.protocol.HandshakeResponse;
import io.tiproxy.protocol.InitialHandshake;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;

import java.io.Closeable;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A short blocking MySQL-protocol conversation for the SQL-port probe: greeting, a complete login,
 * maybe a few text queries, COM_QUIT. Every read and the connect are bounded by one deadline.
 * Finishing the login (accepted or denied) matters: MariaDB counts a connection that ends inside
 * the handshake against {@code max_connect_errors}, an answered login it does not.
 */
final class MySqlProbeConnection implements Closeable {
    private static final ByteBufAllocator ALLOC = UnpooledByteBufAllocator.DEFAULT;
    private static final int UTF8MB4_GENERAL_CI = 45;
    private static final long CAPABILITIES = Capabilities.CLIENT_MYSQL | Capabilities.CLIENT_LONG_FLAG
            | Capabilities.CLIENT_PROTOCOL_41 | Capabilities.CLIENT_TRANSACTIONS
            | Capabilities.CLIENT_SECURE_CONNECTION | Capabilities.CLIENT_PLUGIN_AUTH;

    /** The server answered with an ERR packet. */
    static final class ServerError extends Exception {
        final int code;

        ServerError(int code, String message) {
            super(code + " " + message, null, false, false);
            this.code = code;
        }
    }

    private final Socket socket;
    private final long deadlineNanos;
    private final DataInputStream in;
    private final OutputStream out;
    private int sequence;

    private MySqlProbeConnection(Socket socket, long deadlineNanos) throws IOException {
        this.socket = socket;
        this.deadlineNanos = deadlineNanos;
        this.in = new DataInputStream(socket.getInputStream());
        this.out = socket.getOutputStream();
    }

    /** Connects (bounded by the deadline), binding {@code source} as local address when not null. */
    static MySqlProbeConnection open(InetSocketAddress target, InetAddress source, long deadlineNanos)
            throws IOException {
        Socket socket = new Socket();
        try {
            socket.setTcpNoDelay(true);
            if (source != null) {
                socket.bind(new InetSocketAddress(source, 0));
            }
            socket.connect(target, remainingMillis(deadlineNanos));
            return new MySqlProbeConnection(socket, deadlineNanos);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /** Reads the server's greeting. */
    InitialHandshake readGreeting() throws IOException, ServerError {
        ByteBuf payload = readPacket();
        throwIfErr(payload);
        return InitialHandshake.read(payload);
    }

    /**
     * Logs in with {@code mysql_native_password} (following one auth switch to it); an ERR answer
     * (access denied...) is thrown as {@link ServerError}. An empty password sends empty auth data. An
     * account on another plugin (caching_sha2_password, ed25519) gets an empty answer, which the server
     * ends with ERR: such a service account cannot be used for the Galera check.
     */
    void login(InitialHandshake greeting, String user, String password) throws IOException, ServerError {
        byte[] pw = password.getBytes(StandardCharsets.UTF_8);
        // always answer as mysql_native_password; a server whose account uses another plugin switches us
        byte[] auth = NativePassword.scramble(pw, greeting.salt());
        long caps = CAPABILITIES & (greeting.capabilities() | Capabilities.CLIENT_MYSQL);
        write(new HandshakeResponse(caps, Wire.MAX_PAYLOAD, UTF8MB4_GENERAL_CI, user, auth, null,
                NativePassword.PLUGIN, null).write(ALLOC, sequence));
        boolean switched = false;
        while (true) {
            ByteBuf payload = readPacket();
            throwIfErr(payload);
            int header = payload.getUnsignedByte(payload.readerIndex());
            if (header == Packets.OK_HEADER) {
                return;
            }
            if (header == Packets.AUTH_SWITCH_HEADER && !switched) {
                switched = true;
                AuthSwitchRequest request = AuthSwitchRequest.read(payload);
                byte[] answer = NativePassword.PLUGIN.equals(request.plugin())
                        ? NativePassword.scramble(pw, request.salt()) : new byte[0];
                write(Packets.of(ALLOC, sequence, answer));
            } else if (header == Packets.AUTH_MORE_DATA_HEADER && payload.readableBytes() == 2
                    && payload.getByte(payload.readerIndex() + 1) == 3) {
                continue; // caching_sha2 "fast auth succeeded": the OK follows
            } else {
                // a plugin exchange this probe cannot follow: answer empty so that the server ends it with ERR
                write(Packets.of(ALLOC, sequence, new byte[0]));
            }
        }
    }

    /** Runs a text query and returns its rows (values as strings, NULL as null); ERR is thrown. */
    List<String[]> query(String sql) throws IOException, ServerError {
        sequence = 0;
        write(Packets.build(ALLOC, 0, b -> {
            b.writeByte(Command.COM_QUERY.code());
            b.writeCharSequence(sql, StandardCharsets.UTF_8);
        }));
        ByteBuf first = readPacket();
        throwIfErr(first);
        List<String[]> rows = new ArrayList<>();
        if (first.getUnsignedByte(first.readerIndex()) == Packets.OK_HEADER) {
            return rows;
        }
        int columns = (int) Wire.readIntLenenc(first);
        for (int i = 0; i < columns; i++) {
            readPacket(); // column definitions: not needed
        }
        readPacket(); // EOF after the definitions (CLIENT_DEPRECATE_EOF is not asked for)
        while (true) {
            ByteBuf row = readPacket();
            throwIfErr(row);
            int header = row.getUnsignedByte(row.readerIndex());
            if (header == Packets.EOF_HEADER && row.readableBytes() < 9) {
                return rows;
            }
            String[] values = new String[columns];
            for (int i = 0; i < columns; i++) {
                if (row.getUnsignedByte(row.readerIndex()) == 0xfb) {
                    row.skipBytes(1);
                } else {
                    values[i] = Wire.readStringLenenc(row);
                }
            }
            rows.add(values);
        }
    }

    /** Sends COM_QUIT (the server closes without counting an error). */
    void quit() throws IOException {
        write(Packets.of(ALLOC, 0, new byte[] {(byte) Command.COM_QUIT.code()}));
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }

    private ByteBuf readPacket() throws IOException {
        socket.setSoTimeout(remainingMillis(deadlineNanos));
        int length = in.readUnsignedByte() | in.readUnsignedByte() << 8 | in.readUnsignedByte() << 16;
        sequence = (in.readUnsignedByte() + 1) & 0xff;
        byte[] payload = new byte[length];
        in.readFully(payload);
        return Unpooled.wrappedBuffer(payload);
    }

    private void write(ByteBuf packet) throws IOException {
        try {
            byte[] bytes = new byte[packet.readableBytes()];
            packet.readBytes(bytes);
            out.write(bytes);
            out.flush();
            sequence = (bytes[3] + 1) & 0xff;
        } finally {
            packet.release();
        }
    }

    private static void throwIfErr(ByteBuf payload) throws ServerError {
        if (payload.isReadable() && payload.getUnsignedByte(payload.readerIndex()) == Packets.ERR_HEADER) {
            int code = payload.getUnsignedShortLE(payload.readerIndex() + 1);
            int skip = payload.readableBytes() >= 9 && payload.getByte(payload.readerIndex() + 3) == '#' ? 9 : 3;
            String message = payload.toString(payload.readerIndex() + skip,
                    Math.max(0, payload.readableBytes() - skip), StandardCharsets.UTF_8);
            throw new ServerError(code, message);
        }
    }

    private static int remainingMillis(long deadlineNanos) throws SocketTimeoutException {
        long ms = (deadlineNanos - System.nanoTime()) / 1_000_000;
        if (ms <= 0) {
            throw new SocketTimeoutException("health check timed out");
        }
        return (int) Math.min(Integer.MAX_VALUE, ms);
    }
}
