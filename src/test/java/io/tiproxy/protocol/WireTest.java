package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.function.Consumer;

import static io.tiproxy.protocol.PacketBytes.bytes;
import static io.tiproxy.protocol.PacketBytes.hex;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WireTest {

    private static byte[] written(Consumer<ByteBuf> writer) {
        ByteBuf b = Unpooled.buffer();
        try {
            writer.accept(b);
            byte[] out = new byte[b.readableBytes()];
            b.readBytes(out);
            return out;
        } finally {
            b.release();
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {0, 1, 250, 251, 252, 0xFFFF, 0x10000, 0xFFFFFF, 0x1000000, 0xFFFFFFFFL, 0x100000000L, Long.MAX_VALUE})
    void lenencIntRoundTripsAndMatchesTheSpecEncoding(long v) {
        byte[] encoded = written(b -> Wire.writeIntLenenc(b, v));
        assertThat(encoded).isEqualTo(bytes().lenenc(v).build());
        ByteBuf in = Unpooled.wrappedBuffer(encoded);
        assertThat(Wire.readIntLenenc(in)).isEqualTo(v);
        assertThat(in.isReadable()).isFalse();
    }

    @Test
    void lenencIntUsesTheSmallestEncodingAtEachBoundary() {
        assertThat(written(b -> Wire.writeIntLenenc(b, 250))).isEqualTo(hex("fa"));
        assertThat(written(b -> Wire.writeIntLenenc(b, 251))).isEqualTo(hex("fc fb 00"));
        assertThat(written(b -> Wire.writeIntLenenc(b, 0xFFFF))).isEqualTo(hex("fc ff ff"));
        assertThat(written(b -> Wire.writeIntLenenc(b, 0x10000))).isEqualTo(hex("fd 00 00 01"));
        assertThat(written(b -> Wire.writeIntLenenc(b, 0xFFFFFF))).isEqualTo(hex("fd ff ff ff"));
        assertThat(written(b -> Wire.writeIntLenenc(b, 0x1000000))).isEqualTo(hex("fe 00 00 00 01 00 00 00 00"));
    }

    @Test
    void lenencNullMarkerReadsAsMinusOne() {
        assertThat(Wire.readIntLenenc(Unpooled.wrappedBuffer(hex("fb")))).isEqualTo(-1);
        assertThat(Wire.readBytesLenenc(Unpooled.wrappedBuffer(hex("fb")))).isNull();
        assertThat(Wire.readStringLenenc(Unpooled.wrappedBuffer(hex("fb")))).isNull();
    }

    @Test
    void lenencPrefixFfIsMalformed() {
        assertThatThrownBy(() -> Wire.readIntLenenc(Unpooled.wrappedBuffer(hex("ff 00 00"))))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void fixedIntsAreLittleEndianAndUnsigned() {
        ByteBuf in = Unpooled.wrappedBuffer(hex("ff  fe ff  fd fe ff  fc fd fe ff  01 02 03 04 05 06 07 88"));
        assertThat(Wire.readInt1(in)).isEqualTo(0xff);
        assertThat(Wire.readInt2(in)).isEqualTo(0xfffe);
        assertThat(Wire.readInt3(in)).isEqualTo(0xfffefd);
        assertThat(Wire.readInt4(in)).isEqualTo(0xfffefdfcL);
        assertThat(Wire.readInt8(in)).isEqualTo(0x8807060504030201L);
        assertThat(written(b -> {
            Wire.writeInt1(b, 0xff);
            Wire.writeInt2(b, 0xfffe);
            Wire.writeInt3(b, 0xfffefd);
            Wire.writeInt4(b, 0xfffefdfcL);
            Wire.writeInt8(b, 0x8807060504030201L);
        })).isEqualTo(hex("ff  fe ff  fd fe ff  fc fd fe ff  01 02 03 04 05 06 07 88"));
    }

    @Test
    void nulStringsRoundTripIncludingEmptyAndUtf8() {
        byte[] encoded = written(b -> {
            Wire.writeStringNul(b, "root");
            Wire.writeStringNul(b, "");
            Wire.writeStringNul(b, "Zoë");
        });
        assertThat(encoded).isEqualTo(bytes().strNul("root").strNul("").strNul("Zoë").build());
        ByteBuf in = Unpooled.wrappedBuffer(encoded);
        assertThat(Wire.readStringNul(in)).isEqualTo("root");
        assertThat(Wire.readStringNul(in)).isEmpty();
        assertThat(Wire.readStringNul(in)).isEqualTo("Zoë");
        assertThat(in.isReadable()).isFalse();
    }

    @Test
    void nulStringIsReadFromTheReaderIndexNotTheBufferStart() {
        ByteBuf in = Unpooled.wrappedBuffer(hex("00 61 62 00 63"));
        in.skipBytes(1);
        assertThat(Wire.readStringNul(in)).isEqualTo("ab");
        assertThat(Wire.readStringEof(in)).isEqualTo("c");
    }

    @Test
    void lenencStringsRoundTripAcrossTheOneByteBoundary() {
        String s250 = "x".repeat(250);
        String s251 = "y".repeat(251);
        byte[] encoded = written(b -> {
            Wire.writeStringLenenc(b, s250);
            Wire.writeStringLenenc(b, s251);
            Wire.writeStringLenenc(b, "");
        });
        assertThat(encoded[0] & 0xff).isEqualTo(250);
        assertThat(encoded[251] & 0xff).isEqualTo(0xfc);
        ByteBuf in = Unpooled.wrappedBuffer(encoded);
        assertThat(Wire.readStringLenenc(in)).isEqualTo(s250);
        assertThat(Wire.readStringLenenc(in)).isEqualTo(s251);
        assertThat(Wire.readStringLenenc(in)).isEmpty();
        assertThat(in.isReadable()).isFalse();
    }

    @Test
    void truncatedFixedIntsAreMalformedNotIndexOutOfBounds() {
        assertThatThrownBy(() -> Wire.readInt1(Unpooled.EMPTY_BUFFER)).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readInt2(Unpooled.wrappedBuffer(hex("01")))).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readInt3(Unpooled.wrappedBuffer(hex("01 02")))).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readInt4(Unpooled.wrappedBuffer(hex("01 02 03")))).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readInt8(Unpooled.wrappedBuffer(hex("01 02 03 04 05 06 07")))).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.skip(Unpooled.wrappedBuffer(hex("01 02")), 3)).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readBytes(Unpooled.wrappedBuffer(hex("01 02")), 3)).isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readBytes(Unpooled.wrappedBuffer(hex("01 02")), -1)).isInstanceOf(MalformedPacketException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "fc", "fc 01", "fd 01 02", "fe 01 02 03 04 05 06 07"})
    void truncatedLenencIntIsMalformed(String bytes) {
        assertThatThrownBy(() -> Wire.readIntLenenc(Unpooled.wrappedBuffer(hex(bytes))))
                .isInstanceOf(MalformedPacketException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"05 61 62 63", "fc 00 01 61", "fd 00 00 01 61", "fe 00 00 00 01 00 00 00 00 61",
            "fe ff ff ff 7f 00 00 00 00"})
    void lenencStringLongerThanThePacketIsMalformed(String bytes) {
        assertThatThrownBy(() -> Wire.readBytesLenenc(Unpooled.wrappedBuffer(hex(bytes))))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void lenencStringWithAnImpossibleEightByteLengthIsMalformedNotNull() {
        assertThatThrownBy(() -> Wire.readBytesLenenc(Unpooled.wrappedBuffer(hex("fe ff ff ff ff ff ff ff ff 61"))))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void nulStringWithoutTerminatorIsMalformed() {
        assertThatThrownBy(() -> Wire.readStringNul(Unpooled.wrappedBuffer(hex("61 62 63"))))
                .isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> Wire.readStringNul(Unpooled.EMPTY_BUFFER))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void nulStringDoesNotReadPastTheWriterIndex() {
        // the NUL lies beyond the readable region (e.g. in the next packet of a larger buffer)
        ByteBuf b = Unpooled.wrappedBuffer(hex("61 62 00"));
        b.writerIndex(2);
        assertThatThrownBy(() -> Wire.readStringNul(b)).isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void headerAccessors() {
        ByteBuf packet = Unpooled.wrappedBuffer(PacketBytes.concat(hex("aa"), PacketBytes.packet(7, hex("0e"))));
        packet.skipBytes(1);
        assertThat(Wire.payloadLength(packet, packet.readerIndex())).isEqualTo(1);
        assertThat(Wire.sequenceId(packet)).isEqualTo(7);
        assertThat(Wire.firstPayloadByte(packet)).isEqualTo(0x0e);
        Wire.setSequenceId(packet, 9);
        assertThat(Wire.sequenceId(packet)).isEqualTo(9);
        assertThat(Wire.firstPayloadByte(Unpooled.wrappedBuffer(PacketBytes.packet(2, new byte[0])))).isEqualTo(-1);
    }
}
