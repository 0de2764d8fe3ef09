package io.tiproxy.tidb;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** MySQL wire helpers of the TiDB <em>simulation</em> (independent of the proxy's own codec). */
final class SimPackets {
    static final int MAX_FRAME = 0xFFFFFF;

    /** A logical packet (frames of 16 MiB joined); {@code seq} is the sequence id of its first frame. */
    record Packet(int seq, byte[] payload) {
        int first() {
            return payload.length == 0 ? -1 : payload[0] & 0xff;
        }

        boolean isOk() {
            return first() == 0x00;
        }

        boolean isErr() {
            return first() == 0xff;
        }

        /** EOF packet, or (with DEPRECATE_EOF) the OK packet with 0xFE header that ends a result set. */
        boolean isEofOrTerminator(boolean deprecateEof) {
            return first() == 0xfe && (deprecateEof ? payload.length < MAX_FRAME : payload.length < 9);
        }

        int frames() {
            return payload.length / MAX_FRAME + 1;
        }
    }

    private SimPackets() {
    }

    static Packet read(InputStream in) throws IOException {
        ByteArrayOutputStream all = null;
        int firstSeq = -1;
        while (true) {
            byte[] h = in.readNBytes(4);
            if (h.length < 4) {
                if (h.length == 0 && firstSeq < 0) {
                    return null;
                }
                throw new EOFException("connection closed inside a packet");
            }
            int len = (h[0] & 0xff) | (h[1] & 0xff) << 8 | (h[2] & 0xff) << 16;
            if (firstSeq < 0) {
                firstSeq = h[3] & 0xff;
            }
            byte[] body = in.readNBytes(len);
            if (body.length < len) {
                throw new EOFException("connection closed inside a packet");
            }
            if (len < MAX_FRAME && all == null) {
                return new Packet(firstSeq, body);
            }
            if (all == null) {
                all = new ByteArrayOutputStream();
            }
            all.write(body);
            if (len < MAX_FRAME) {
                return new Packet(firstSeq, all.toByteArray());
            }
        }
    }

    static void write(OutputStream out, int seq, byte[] payload) throws IOException {
        int off = 0;
        while (true) {
            int len = Math.min(MAX_FRAME, payload.length - off);
            out.write(new byte[] {(byte) len, (byte) (len >> 8), (byte) (len >> 16), (byte) seq});
            out.write(payload, off, len);
            off += len;
            seq = (seq + 1) & 0xff;
            if (len < MAX_FRAME) {
                return;
            }
        }
    }

    static void write(OutputStream out, Packet p) throws IOException {
        write(out, p.seq(), p.payload());
    }

    // ---- building payloads --------------------------------------------------------------------

    static final class Builder {
        private final ByteArrayOutputStream b = new ByteArrayOutputStream();

        Builder int1(int v) {
            b.write(v);
            return this;
        }

        Builder int2(int v) {
            b.write(v);
            b.write(v >> 8);
            return this;
        }

        Builder int4(long v) {
            for (int i = 0; i < 4; i++) {
                b.write((int) (v >> (8 * i)));
            }
            return this;
        }

        Builder lenenc(long v) {
            if (v < 251) {
                return int1((int) v);
            } else if (v < 1 << 16) {
                return int1(0xfc).int2((int) v);
            } else if (v < 1 << 24) {
                return int1(0xfd).int2((int) v).int1((int) (v >> 16));
            }
            int1(0xfe);
            for (int i = 0; i < 8; i++) {
                b.write((int) (v >> (8 * i)));
            }
            return this;
        }

        Builder lenencBytes(byte[] v) {
            lenenc(v.length);
            b.writeBytes(v);
            return this;
        }

        Builder lenencString(String s) {
            return lenencBytes(s.getBytes(StandardCharsets.UTF_8));
        }

        Builder bytes(byte[] v) {
            b.writeBytes(v);
            return this;
        }

        Builder stringNul(String s) {
            b.writeBytes(s.getBytes(StandardCharsets.UTF_8));
            b.write(0);
            return this;
        }

        Builder zeros(int n) {
            b.writeBytes(new byte[n]);
            return this;
        }

        byte[] build() {
            return b.toByteArray();
        }
    }

    static byte[] ok(int status, long affected) {
        return new Builder().int1(0).lenenc(affected).lenenc(0).int2(status).int2(0).build();
    }

    static byte[] err(int code, String sqlState, String message) {
        return new Builder().int1(0xff).int2(code).int1('#').bytes(sqlState.getBytes(StandardCharsets.US_ASCII))
                .bytes(message.getBytes(StandardCharsets.UTF_8)).build();
    }

    static byte[] eof(int status) {
        return new Builder().int1(0xfe).int2(0).int2(status).build();
    }

    static String errorMessage(byte[] err) {
        int from = err.length > 3 && err[3] == '#' ? 9 : 3;
        return new String(err, from, err.length - from, StandardCharsets.UTF_8);
    }

    static int errorCode(byte[] err) {
        return (err[1] & 0xff) | (err[2] & 0xff) << 8;
    }

    // ---- reading payloads ---------------------------------------------------------------------

    /** A cursor over a payload. */
    static final class Reader {
        final byte[] p;
        int pos;

        Reader(byte[] p, int pos) {
            this.p = p;
            this.pos = pos;
        }

        int int1() {
            return p[pos++] & 0xff;
        }

        int int2() {
            int v = (p[pos] & 0xff) | (p[pos + 1] & 0xff) << 8;
            pos += 2;
            return v;
        }

        long int4() {
            long v = (p[pos] & 0xffL) | (p[pos + 1] & 0xffL) << 8 | (p[pos + 2] & 0xffL) << 16 | (p[pos + 3] & 0xffL) << 24;
            pos += 4;
            return v;
        }

        /** Length-encoded integer; -1 for the NULL marker 0xFB. */
        long lenenc() {
            int f = int1();
            return switch (f) {
                case 0xfb -> -1;
                case 0xfc -> int2();
                case 0xfd -> {
                    long v = int2();
                    yield v | (long) int1() << 16;
                }
                case 0xfe -> {
                    long v = int4();
                    yield v | int4() << 32;
                }
                default -> f;
            };
        }

        byte[] lenencBytes() {
            long n = lenenc();
            if (n < 0) {
                return null;
            }
            byte[] v = java.util.Arrays.copyOfRange(p, pos, pos + (int) n);
            pos += (int) n;
            return v;
        }

        String lenencString() {
            byte[] v = lenencBytes();
            return v == null ? null : new String(v, StandardCharsets.UTF_8);
        }

        String stringNul() {
            int end = pos;
            while (end < p.length && p[end] != 0) {
                end++;
            }
            String s = new String(p, pos, end - pos, StandardCharsets.UTF_8);
            pos = Math.min(end + 1, p.length);
            return s;
        }

        byte[] bytes(int n) {
            byte[] v = java.util.Arrays.copyOfRange(p, pos, pos + n);
            pos += n;
            return v;
        }

        boolean more() {
            return pos < p.length;
        }
    }

    /** Server status flags of an OK packet (header 0x00 or 0xFE terminator) or of an EOF packet. */
    static int statusOf(byte[] p) {
        if (p.length == 0) {
            return 0;
        }
        if ((p[0] & 0xff) == 0xfe && p.length < 9) {
            return p.length >= 5 ? (p[3] & 0xff) | (p[4] & 0xff) << 8 : 0;
        }
        Reader r = new Reader(p, 1);
        r.lenenc();
        r.lenenc();
        return r.int2();
    }
}
