package io.tiproxy.protocol;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.buffer.UnpooledHeapByteBuf;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.tiproxy.protocol.PacketBytes.eof;
import static io.tiproxy.protocol.PacketBytes.err;
import static io.tiproxy.protocol.PacketBytes.filled;
import static io.tiproxy.protocol.PacketBytes.hex;
import static io.tiproxy.protocol.PacketBytes.ok;
import static io.tiproxy.protocol.PacketBytes.okEof;
import static io.tiproxy.protocol.PacketBytes.okWithHeader;
import static io.tiproxy.protocol.PacketBytes.packet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class PacketsTest {

    /** Hands out unpooled heap buffers and remembers them, so a test can check they were all released. */
    static final class RecordingAllocator extends AbstractByteBufAllocator {
        final List<ByteBuf> allocated = new ArrayList<>();

        RecordingAllocator() {
            super(false);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            ByteBuf b = new UnpooledHeapByteBuf(UnpooledByteBufAllocator.DEFAULT, initialCapacity, maxCapacity);
            allocated.add(b);
            return b;
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            return newHeapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }

        /** Buffers still referenced; releases them so the test itself leaks nothing. */
        List<ByteBuf> releaseUnreleased() {
            List<ByteBuf> live = new ArrayList<>();
            for (ByteBuf b : allocated) {
                if (b.refCnt() > 0) {
                    live.add(b);
                    b.release(b.refCnt());
                }
            }
            return live;
        }
    }

    private static byte[] drain(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    private static ByteBuf wrap(byte[] packet) {
        return Unpooled.wrappedBuffer(packet);
    }

    @Test
    void okAndErrAreBuiltAsServersSendThem() {
        ByteBufAllocator alloc = ByteBufAllocator.DEFAULT;
        assertThat(drain(Packets.ok(alloc, 2, 0x0002))).isEqualTo(packet(2, ok(0x0002)));
        assertThat(drain(Packets.err(alloc, 1, 1045, "28000", "Access denied for user 'bob'")))
                .isEqualTo(packet(1, err(1045, "28000", "Access denied for user 'bob'")));
        MySqlError e = MySqlError.tooManyConnections();
        assertThat(drain(Packets.err(alloc, 0, e))).isEqualTo(packet(0, err(1040, "08004", "Too many connections")));
        assertThat(drain(Packets.of(alloc, 3, hex("0e")))).isEqualTo(hex("01000003 0e"));
    }

    @Test
    void classifiesTerminalPackets() {
        assertThat(Packets.isOk(wrap(packet(1, ok(2))))).isTrue();
        assertThat(Packets.isErr(wrap(packet(1, err(1064, "42000", "x"))))).isTrue();
        assertThat(Packets.isEof(wrap(packet(5, eof(2))))).isTrue();
        assertThat(Packets.isEof(wrap(packet(5, okEof(2))))).as("7-byte 0xFE OK is short enough").isTrue();
        assertThat(Packets.isEof(wrap(packet(5, concat0xFE(8))))).as("9 bytes is a row").isFalse();
        assertThat(Packets.isOk(wrap(packet(1, new byte[0])))).isFalse();
        assertThat(Packets.isEof(wrap(packet(1, new byte[0])))).isFalse();
    }

    private static byte[] concat0xFE(int more) {
        return PacketBytes.concat(hex("fe"), filled(more, 0));
    }

    @Test
    void resultSetEndDependsOnDeprecateEof() {
        byte[] longOkEof = okWithHeader(0xfe, 0, 0, 0x4002, 0, "with session state info");
        assertThat(Packets.isResultSetEnd(wrap(packet(9, eof(2))), false)).isTrue();
        assertThat(Packets.isResultSetEnd(wrap(packet(9, longOkEof)), false)).isFalse();
        assertThat(Packets.isResultSetEnd(wrap(packet(9, okEof(2))), true)).isTrue();
        assertThat(Packets.isResultSetEnd(wrap(packet(9, longOkEof)), true)).isTrue();
        assertThat(Packets.isResultSetEnd(wrap(packet(9, PacketBytes.textRow("1"))), true)).isFalse();
        // the first frame of a 16 MiB row starting with the 0xFE length prefix
        ByteBuf bigFrame = Unpooled.wrappedBuffer(PacketBytes.bytes().int3(0xFFFFFF).int1(4).int1(0xfe).build());
        assertThat(Packets.isResultSetEnd(bigFrame, true)).isFalse();
        assertThat(Packets.isResultSetEnd(bigFrame, false)).isFalse();
    }

    @Test
    void errorCodeAndMessage() {
        ByteBuf e = wrap(PacketBytes.concat(hex("0000"), packet(1, err(1146, "42S02", "Table 'test.t' doesn't exist"))));
        e.skipBytes(2);
        assertThat(Packets.errorCode(e)).isEqualTo(1146);
        assertThat(Packets.errorMessage(e)).isEqualTo("Table 'test.t' doesn't exist");
        // ERR before PROTOCOL_41 (e.g. "Host is blocked" sent before the greeting): no SQL state
        ByteBuf early = wrap(packet(0, PacketBytes.bytes().int1(0xff).int2(1129).str("Host '1.2.3.4' is blocked").build()));
        assertThat(Packets.errorCode(early)).isEqualTo(1129);
        assertThat(Packets.errorMessage(early)).isEqualTo("Host '1.2.3.4' is blocked");
        assertThat(Packets.errorMessage(wrap(packet(1, hex("ff 01"))))).isEmpty();
    }

    @Test
    void payloadIsASliceSharingTheReferenceCount() {
        ByteBuf p = Unpooled.buffer().writeBytes(packet(1, ok(2)));
        ByteBuf payload = Packets.payload(p);
        assertThat(ByteBufUtil.getBytes(payload)).isEqualTo(ok(2));
        assertThat(Packets.payloadLength(p)).isEqualTo(7);
        p.release();
        assertThat(payload.refCnt()).isZero();
    }

    @Test
    void buildRefusesAPayloadThatNeedsSplittingAndReleasesItsBuffer() {
        RecordingAllocator alloc = new RecordingAllocator();
        assertThatThrownBy(() -> Packets.build(alloc, 0, b -> b.writeZero(Wire.MAX_PAYLOAD)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(alloc.releaseUnreleased()).isEmpty();
        ByteBuf justBelow = Packets.build(alloc, 0, b -> b.writeZero(Wire.MAX_PAYLOAD - 1));
        assertThat(Packets.payloadLength(justBelow)).isEqualTo(Wire.MAX_PAYLOAD - 1);
        justBelow.release();
    }

    @Test
    void buildReleasesItsBufferWhenThePayloadWriterThrows() {
        RecordingAllocator alloc = new RecordingAllocator();
        HandshakeResponse r = new HandshakeResponse(Capabilities.CLIENT_PROTOCOL_41 | Capabilities.CLIENT_SECURE_CONNECTION
                | Capabilities.CLIENT_PLUGIN_AUTH, 0, 45, "u", new byte[256], null, "dialog", null);
        assertThatThrownBy(() -> r.write(alloc, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(alloc.releaseUnreleased()).isEmpty();
    }
}
