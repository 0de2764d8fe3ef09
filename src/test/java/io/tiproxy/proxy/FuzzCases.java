package io.tiproxy.proxy;

import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * The cases {@link FuzzTest} runs: a valid packet of a login or of a command, mutated by
 * {@link PacketMutator}, sent to the proxy; then the client watches what comes back. Every case ends
 * in a definite {@link Outcome} unless the proxy leaves it hanging.
 */
final class FuzzCases {
    /** How a case ended, seen from the client. */
    enum Outcome {
        /** The proxy closed the connection. */
        CLOSED,
        /** The proxy (or the backend through it) answered with an ERR packet. */
        ERR,
        /** The damage was harmless: the login still went through. */
        LOGGED_IN,
        /** A command got an answer that was not an error (the damage produced another valid command). */
        ANSWERED,
        /** Nothing within the bound: the failure the fuzzer looks for. */
        HUNG,
        /** The valid part before the damage (connect, greeting, login, prepare) failed: the proxy is broken. */
        SETUP_FAILED
    }

    record Result(Outcome outcome, String description) {}

    /** After the first answer to a mutated command, silence this long means the answer is complete. */
    private static final long ANSWER_QUIET_MILLIS = 300;
    private static final int CLIENT_SSL = 0x800;

    private final int port;
    private final String user;
    private final String password;
    private final long boundMillis;

    /** Cases against {@code port}, logging in as {@code user} (who should not hold SHUTDOWN: COM_SHUTDOWN is fuzzed too). */
    FuzzCases(int port, String user, String password, long boundMillis) {
        this.port = port;
        this.user = user;
        this.password = password;
        this.boundMillis = boundMillis;
    }

    /** Runs case {@code id} of the run with {@code seed}. */
    Result run(long seed, int id) {
        // neighbouring seeds give java.util.Random correlated first values: spread them first
        Random random = new Random(new SplittableRandom(seed + id * 0x9E3779B97F4A7C15L).nextLong());
        PacketMutator mutator = new PacketMutator(random);
        try (FuzzConnection c = new FuzzConnection(port)) {
            return random.nextBoolean() ? handshakeCase(c, random, mutator) : commandCase(c, random, mutator);
        } catch (IOException e) {
            return new Result(Outcome.SETUP_FAILED, e.toString());
        }
    }

    private Result handshakeCase(FuzzConnection c, Random random, PacketMutator mutator) throws IOException {
        RawMySqlClient.Packet greeting = c.expect(boundMillis);
        byte[] salt = RawMySqlClient.salt(greeting.payload());
        String password = random.nextInt(4) == 0 ? "wrong" : this.password;
        byte[] response = RawMySqlClient.handshakeResponse(user, password, salt,
                random.nextBoolean() ? TestAccounts.DATABASE : null);
        int kind = random.nextInt(10);
        if (kind < 3) {
            // a valid response, then a damaged answer to the backend's auth switch
            c.send(PacketMutator.frame(1, response));
            RawMySqlClient.Packet sw = c.expect(boundMillis);
            if (sw.first() != 0xfe) {
                return new Result(Outcome.SETUP_FAILED, "expected an auth switch, got 0x" + Integer.toHexString(sw.first()));
            }
            var m = mutator.mutate(sw.sequenceId() + 1, FuzzConnection.scramble(password, FuzzConnection.authSwitchSalt(sw.payload())));
            return watchLogin(c, m.bytes(), "auth-switch answer: " + m.description());
        }
        byte[] packet = kind == 3 ? sslRequest(random) : response;
        var m = mutator.mutate(1, packet);
        return watchLogin(c, m.bytes(), (kind == 3 ? "SSLRequest: " : "handshake response: ") + m.description());
    }

    private Result watchLogin(FuzzConnection c, byte[] damaged, String what) throws IOException {
        long deadline = System.nanoTime() + boundMillis * 1_000_000;
        boolean answeredSwitch = false;
        try {
            c.send(damaged);
            while (true) {
                RawMySqlClient.Packet p = c.next(deadline);
                if (p == null) {
                    return new Result(Outcome.HUNG, what);
                }
                if (p.isErr()) {
                    return new Result(Outcome.ERR, what + " -> " + p.errorCode());
                }
                if (p.isOk()) {
                    return new Result(Outcome.LOGGED_IN, what);
                }
                if (p.first() == 0xfe && !answeredSwitch) {
                    // the damage left a login the backend goes on with: answer as a client would
                    answeredSwitch = true;
                    c.send(PacketMutator.frame(p.sequenceId() + 1, FuzzConnection.scramble(password, FuzzConnection.authSwitchSalt(p.payload()))));
                }
            }
        } catch (FuzzConnection.ClosedException e) {
            return new Result(Outcome.CLOSED, what);
        }
    }

    private Result commandCase(FuzzConnection c, Random random, PacketMutator mutator) throws IOException {
        RawMySqlClient.Packet ok = c.login(user, password, TestAccounts.DATABASE);
        if (!ok.isOk()) {
            return new Result(Outcome.SETUP_FAILED, ok.isErr() ? ok.errorMessage() : "login answered 0x" + Integer.toHexString(ok.first()));
        }
        long statement = 1;
        if (random.nextBoolean()) {
            statement = prepare(c, "SELECT ? + 1");
        }
        byte[] command = command(random, statement);
        var m = mutator.mutate(0, command);
        byte[] bytes = m.bytes();
        String what = "command 0x" + Integer.toHexString(command[0] & 0xff) + ": " + m.description();
        if (random.nextInt(4) == 0) {
            bytes = PacketMutator.concat(bytes, PacketMutator.frame(0, new byte[] {0x0e}));
            what += " + COM_PING";
        }
        return watchCommand(c, bytes, what);
    }

    private Result watchCommand(FuzzConnection c, byte[] damaged, String what) throws IOException {
        long deadline = System.nanoTime() + boundMillis * 1_000_000;
        boolean answered = false;
        try {
            c.send(damaged);
            while (true) {
                long until = answered ? Math.min(deadline, System.nanoTime() + ANSWER_QUIET_MILLIS * 1_000_000) : deadline;
                RawMySqlClient.Packet p = c.next(until);
                if (p == null) {
                    return new Result(answered ? Outcome.ANSWERED : Outcome.HUNG, what);
                }
                if (p.isErr()) {
                    return new Result(Outcome.ERR, what + " -> " + p.errorCode());
                }
                answered = true;
            }
        } catch (FuzzConnection.ClosedException e) {
            return new Result(Outcome.CLOSED, what);
        }
    }

    /** Prepares {@code sql} and reads the whole prepare response; returns the statement id. */
    private long prepare(FuzzConnection c, String sql) throws IOException {
        c.send(PacketMutator.frame(0, withCommand(0x16, sql.getBytes(StandardCharsets.UTF_8))));
        RawMySqlClient.Packet ok = c.expect(boundMillis);
        if (!ok.isOk()) {
            throw new IOException("prepare failed: " + (ok.isErr() ? ok.errorMessage() : "0x" + Integer.toHexString(ok.first())));
        }
        byte[] p = ok.payload();
        long id = (p[1] & 0xffL) | (p[2] & 0xffL) << 8 | (p[3] & 0xffL) << 16 | (p[4] & 0xffL) << 24;
        int columns = (p[5] & 0xff) | (p[6] & 0xff) << 8;
        int params = (p[7] & 0xff) | (p[8] & 0xff) << 8;
        // no CLIENT_DEPRECATE_EOF: each definition block ends with an EOF packet
        int more = (params > 0 ? params + 1 : 0) + (columns > 0 ? columns + 1 : 0);
        for (int i = 0; i < more; i++) {
            c.expect(boundMillis);
        }
        return id;
    }

    /** A valid command payload, chosen at random. */
    static byte[] command(Random random, long statement) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        switch (random.nextInt(18)) {
            case 0 -> b.writeBytes(withCommand(0x03, ascii("SELECT 1")));
            case 1 -> b.writeBytes(withCommand(0x03, ascii("SELECT 'abc', 2.5, NULL, @@autocommit")));
            case 2 -> b.writeBytes(withCommand(0x03, ascii("SET @fz = 1, SESSION sql_mode = 'ANSI_QUOTES'")));
            case 3 -> b.write(0x0e); // COM_PING
            case 4 -> b.writeBytes(withCommand(0x02, ascii(TestAccounts.DATABASE)));
            case 5 -> b.writeBytes(withCommand(0x04, ascii("t\0")));
            case 6 -> b.write(0x09); // COM_STATISTICS
            case 7 -> b.writeBytes(withCommand(0x16, ascii("SELECT ? + 1")));
            case 8 -> {
                b.write(0x17); // COM_STMT_EXECUTE: id, flags, iterations, null bitmap, bound, type, value
                int4(b, statement);
                b.write(0);
                int4(b, 1);
                b.write(0);
                b.write(1);
                b.write(0x08);
                b.write(0);
                for (int i = 0; i < 8; i++) {
                    b.write(i == 0 ? 41 : 0);
                }
            }
            case 9 -> {
                b.write(0x19);
                int4(b, statement);
            }
            case 10 -> {
                b.write(0x1a);
                int4(b, statement);
            }
            case 11 -> {
                b.write(0x1c);
                int4(b, statement);
                int4(b, 10);
            }
            case 12 -> {
                b.write(0x18);
                int4(b, statement);
                b.write(0);
                b.write(0);
                b.writeBytes(ascii("long data"));
            }
            case 13 -> b.writeBytes(new byte[] {0x1b, 0, 0}); // COM_SET_OPTION
            case 14 -> b.write(0x1f); // COM_RESET_CONNECTION
            case 15 -> {
                b.write(0x11); // COM_CHANGE_USER: user, auth, db, charset, plugin
                b.writeBytes(ascii("fuzz\0"));
                b.write(20);
                b.writeBytes(new byte[20]);
                b.writeBytes(ascii(TestAccounts.DATABASE + "\0"));
                b.write(45);
                b.write(0);
                b.writeBytes(ascii("mysql_native_password\0"));
            }
            case 16 -> {
                b.write(0x0c); // COM_PROCESS_KILL of an id no session has
                int4(b, 0xFFFFFFF0L | random.nextInt(16));
            }
            default -> {
                b.write(random.nextInt(256));
                byte[] rest = new byte[random.nextInt(40)];
                random.nextBytes(rest);
                b.writeBytes(rest);
            }
        }
        return b.toByteArray();
    }

    /** An SSLRequest (the proxy under test offers no TLS). */
    private static byte[] sslRequest(Random random) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        int4(b, 0x0200 | 0x8000 | 0x80000 | CLIENT_SSL | random.nextInt(2));
        int4(b, 1 << 24);
        b.write(45);
        b.writeBytes(new byte[23]);
        return b.toByteArray();
    }

    private static byte[] withCommand(int command, byte[] body) {
        byte[] out = new byte[body.length + 1];
        out[0] = (byte) command;
        System.arraycopy(body, 0, out, 1, body.length);
        return out;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    private static void int4(ByteArrayOutputStream b, long v) {
        b.write((int) v);
        b.write((int) (v >> 8));
        b.write((int) (v >> 16));
        b.write((int) (v >> 24));
    }
}
