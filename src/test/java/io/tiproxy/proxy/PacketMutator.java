package io.tiproxy.proxy;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Random;

/**
 * Seeded mutations of one MySQL packet (4-byte header + payload) for {@link FuzzTest}: the kinds of
 * damage a broken client, a bad network middlebox or an attacker produces. Each mutation says what it
 * did, so a failing case can be described and replayed from its seed.
 */
final class PacketMutator {
    /** The bytes to send and a description of the damage. */
    record Mutated(byte[] bytes, String description) {}

    private static final byte[] INTERESTING = {0x00, (byte) 0xff, (byte) 0xfe, (byte) 0xfd, (byte) 0xfc, (byte) 0xfb,
            0x7f, (byte) 0x80, 0x01, 0x03, 0x16, 0x17};

    private final Random random;

    PacketMutator(Random random) {
        this.random = random;
    }

    /** A whole packet: header with the payload's length and {@code seq}, then the payload. */
    static byte[] frame(int seq, byte[] payload) {
        byte[] out = new byte[4 + payload.length];
        out[0] = (byte) payload.length;
        out[1] = (byte) (payload.length >> 8);
        out[2] = (byte) (payload.length >> 16);
        out[3] = (byte) seq;
        System.arraycopy(payload, 0, out, 4, payload.length);
        return out;
    }

    /** One to three mutations of the packet {@code seq}/{@code payload}. */
    Mutated mutate(int seq, byte[] payload) {
        int rounds = 1 + (random.nextInt(4) == 0 ? 1 + random.nextInt(2) : 0);
        byte[] packet = frame(seq, payload);
        StringBuilder what = new StringBuilder();
        for (int i = 0; i < rounds; i++) {
            Mutated m = mutateOnce(packet);
            packet = m.bytes();
            what.append(i == 0 ? "" : " + ").append(m.description());
        }
        return new Mutated(packet, what.toString());
    }

    private Mutated mutateOnce(byte[] packet) {
        if (packet.length < 4) {
            // an earlier round left less than a header: treat those bytes as a payload again
            packet = frame(0, packet);
        }
        byte[] payload = Arrays.copyOfRange(packet, 4, packet.length);
        int seq = packet[3] & 0xff;
        switch (random.nextInt(12)) {
            case 0 -> {
                int bits = 1 + random.nextInt(8);
                for (int i = 0; i < bits && payload.length > 0; i++) {
                    payload[random.nextInt(payload.length)] ^= (byte) (1 << random.nextInt(8));
                }
                return new Mutated(frame(seq, payload), "flip " + bits + " bits");
            }
            case 1 -> {
                int n = 1 + random.nextInt(4);
                for (int i = 0; i < n && payload.length > 0; i++) {
                    payload[random.nextInt(payload.length)] = INTERESTING[random.nextInt(INTERESTING.length)];
                }
                return new Mutated(frame(seq, payload), "set " + n + " bytes");
            }
            case 2 -> {
                // the header promises more than is sent: the peer waits for the rest
                int keep = payload.length == 0 ? 0 : random.nextInt(payload.length);
                byte[] out = Arrays.copyOf(packet, 4 + keep);
                return new Mutated(out, "truncate to " + keep + " of " + payload.length + " bytes");
            }
            case 3 -> {
                int keep = payload.length == 0 ? 0 : random.nextInt(payload.length);
                return new Mutated(frame(seq, Arrays.copyOf(payload, keep)), "shorten to " + keep + " bytes");
            }
            case 4 -> {
                int len = switch (random.nextInt(4)) {
                    case 0 -> 0xFFFFFF;
                    case 1 -> 0x10000 + random.nextInt(0xFFFFFF - 0x10000);
                    case 2 -> random.nextInt(Math.max(1, payload.length));
                    default -> payload.length + 1 + random.nextInt(64);
                };
                byte[] out = packet.clone();
                out[0] = (byte) len;
                out[1] = (byte) (len >> 8);
                out[2] = (byte) (len >> 16);
                return new Mutated(out, "length prefix " + len + " for " + payload.length + " bytes");
            }
            case 5 -> {
                int s = random.nextInt(256);
                return new Mutated(frame(s, payload), "sequence id " + s);
            }
            case 6 -> {
                byte[] garbage = randomBytes(1 + random.nextInt(64));
                return new Mutated(concat(packet, garbage), "append " + garbage.length + " garbage bytes");
            }
            case 7 -> {
                byte[] insert = randomBytes(1 + random.nextInt(16));
                int at = random.nextInt(payload.length + 1);
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                b.write(payload, 0, at);
                b.writeBytes(insert);
                b.write(payload, at, payload.length - at);
                return new Mutated(frame(seq, b.toByteArray()), "insert " + insert.length + " bytes at " + at);
            }
            case 8 -> {
                byte[] garbage = randomBytes(random.nextInt(300));
                return new Mutated(frame(seq, garbage), "replace payload by " + garbage.length + " random bytes");
            }
            case 9 -> {
                return new Mutated(concat(packet, packet), "send twice");
            }
            case 10 -> {
                return new Mutated(frame(seq, new byte[0]), "empty payload");
            }
            default -> {
                byte[] garbage = randomBytes(1 + random.nextInt(200));
                return new Mutated(garbage, "replace packet by " + garbage.length + " random bytes");
            }
        }
    }

    byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
