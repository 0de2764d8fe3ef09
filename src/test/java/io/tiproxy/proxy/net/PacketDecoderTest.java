package io.tiproxy.proxy.net;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.PacketBytes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static io.tiproxy.protocol.PacketBytes.columnCount;
import static io.tiproxy.protocol.PacketBytes.columnDef;
import static io.tiproxy.protocol.PacketBytes.comPing;
import static io.tiproxy.protocol.PacketBytes.comQuery;
import static io.tiproxy.protocol.PacketBytes.concat;
import static io.tiproxy.protocol.PacketBytes.eof;
import static io.tiproxy.protocol.PacketBytes.hex;
import static io.tiproxy.protocol.PacketBytes.ok;
import static io.tiproxy.protocol.PacketBytes.packet;
import static io.tiproxy.protocol.PacketBytes.textRow;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

class PacketDecoderTest {

    private static final int MAX = 0xFFFFFF;

    /** Every buffer given to or taken from a channel, checked for a reference count of 0 at the end. */
    private final List<ByteBuf> tracked = new ArrayList<>();
    private EmbeddedChannel ch;

    @AfterEach
    void noLeaks() {
        if (ch != null) {
            ch.finishAndReleaseAll();
        }
        for (ByteBuf b : tracked) {
            assertThat(b.refCnt()).as("reference count of %s", b).isZero();
        }
    }

    private ByteBuf in(byte[] bytes) {
        ByteBuf b = Unpooled.buffer(bytes.length).writeBytes(bytes);
        tracked.add(b);
        return b;
    }

    /** Reads every emitted buffer as bytes and releases it. */
    private List<byte[]> drainInbound() {
        List<byte[]> out = new ArrayList<>();
        for (ByteBuf b; (b = ch.readInbound()) != null; ) {
            tracked.add(b);
            out.add(ByteBufUtil.getBytes(b));
            b.release();
        }
        return out;
    }

    private record Seen(int start, int payloadLength, int sequenceId, int firstByte) {}

    /** An inspector recording what it saw at each start index (must not modify or retain the buffer). */
    private static PacketDecoder.Inspector recorder(List<Seen> seen) {
        return (buf, start) -> {
            int len = buf.getUnsignedMediumLE(start);
            seen.add(new Seen(start, len, buf.getUnsignedByte(start + 3), len == 0 ? -1 : buf.getUnsignedByte(start + 4)));
            return null;
        };
    }

    // ---- per-packet mode -----------------------------------------------------------------------

    @Test
    void perPacketModeEmitsEachWholePacketAsARetainedSlice() {
        ch = new EmbeddedChannel(new PacketDecoder(MAX));
        byte[] a = packet(0, comQuery("SELECT 1"));
        byte[] b = packet(0, comPing());
        byte[] c = packet(1, new byte[0]);
        ch.writeInbound(in(concat(a, b, c)));

        ByteBuf first = ch.readInbound();
        tracked.add(first);
        assertThat(first.unwrap()).as("a slice, not a copy").isNotNull();
        assertThat(ByteBufUtil.getBytes(first)).isEqualTo(a);
        first.release();
        assertThat(drainInbound()).containsExactly(b, c);
    }

    @Test
    void perPacketModeReassemblesAPacketWrittenOneByteAtATime() {
        ch = new EmbeddedChannel(new PacketDecoder(MAX));
        byte[] a = packet(0, comQuery("SELECT * FROM t WHERE id = 1"));
        byte[] b = packet(0, comPing());
        byte[] all = concat(a, b);
        List<byte[]> got = new ArrayList<>();
        for (int i = 0; i < all.length; i++) {
            ch.writeInbound(in(new byte[] {all[i]}));
            List<byte[]> now = drainInbound();
            if (i == a.length - 1 || i == all.length - 1) {
                assertThat(now).as("after byte %d", i).hasSize(1);
            } else {
                assertThat(now).as("after byte %d", i).isEmpty();
            }
            got.addAll(now);
        }
        assertThat(got).containsExactly(a, b);
    }

    @Test
    void perPacketModeHandlesSeveralPacketsAndAPartialOneInOneWrite() {
        ch = new EmbeddedChannel(new PacketDecoder(MAX));
        byte[] a = packet(1, columnCount(2));
        byte[] b = packet(2, columnDef("id"));
        byte[] c = packet(3, columnDef("name"));
        ch.writeInbound(in(concat(a, b, Arrays.copyOf(c, 10))));
        assertThat(drainInbound()).containsExactly(a, b);
        ch.writeInbound(in(Arrays.copyOfRange(c, 10, c.length)));
        assertThat(drainInbound()).containsExactly(c);
    }

    @Test
    void perPacketModeEmitsThe16MiBFramesOfALargePacketSeparately() {
        ch = new EmbeddedChannel(new PacketDecoder(MAX));
        byte[] payload = PacketBytes.filled(MAX + 5, 'x');
        byte[] logical = PacketBytes.logicalPacket(0, payload);
        ch.writeInbound(in(logical));
        List<byte[]> frames = drainInbound();
        assertThat(frames).hasSize(2);
        assertThat(frames.get(0)).hasSize(4 + MAX);
        assertThat(frames.get(1)).isEqualTo(packet(1, PacketBytes.filled(5, 'x')));
    }

    // ---- run mode --------------------------------------------------------------------------------

    @Test
    void runModeEmitsAllCompletePacketsOfAReadAsOneBufferAndInspectsEachOnce() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        decoder.setInspector(recorder(seen));
        ch = new EmbeddedChannel(decoder);

        byte[] p1 = packet(1, columnCount(1));
        byte[] p2 = packet(2, columnDef("a"));
        byte[] p3 = packet(3, eof(2));
        byte[] p4 = packet(4, textRow("1"));
        byte[] p5 = packet(5, eof(2));
        // a buffer whose readable region does not start at index 0
        ByteBuf first = in(concat(hex("deadbeef"), p1, p2, p3, Arrays.copyOf(p4, 3)));
        first.skipBytes(4);
        ch.writeInbound(first);

        assertThat(drainInbound()).containsExactly(concat(p1, p2, p3));
        assertThat(seen).containsExactly(
                new Seen(4, p1.length - 4, 1, 0x01),
                new Seen(4 + p1.length, p2.length - 4, 2, 0x03),
                new Seen(4 + p1.length + p2.length, 5, 3, 0xfe));

        seen.clear();
        ch.writeInbound(in(concat(Arrays.copyOfRange(p4, 3, p4.length), p5)));
        assertThat(drainInbound()).containsExactly(concat(p4, p5));
        assertThat(seen).extracting(Seen::sequenceId).containsExactly(4, 5);
        assertThat(seen).extracting(Seen::firstByte).containsExactly(1, 0xfe);
    }

    /** A recorder that also lets packets whose first payload byte is {@code rowMarker} stream unseen. */
    private static PacketDecoder.Inspector streamingRecorder(List<Seen> seen, List<Integer> unseen, int rowMarker) {
        PacketDecoder.Inspector inspect = recorder(seen);
        return new PacketDecoder.Inspector() {
            @Override
            public ByteBuf inspect(ByteBuf buf, int start) {
                return inspect.inspect(buf, start);
            }

            @Override
            public boolean forwardsUnseen(ByteBuf buf, int start) {
                if (buf.getUnsignedByte(start + 4) != rowMarker) {
                    return false;
                }
                unseen.add((int) buf.getUnsignedByte(start + 3));
                return true;
            }
        };
    }

    @Test
    void aRowTheInspectorLetsThroughUnseenIsForwardedPieceByPieceWithoutWaiting() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        List<Integer> unseen = new ArrayList<>();
        decoder.setInspector(streamingRecorder(seen, unseen, 0x05));
        ch = new EmbeddedChannel(decoder);
        byte[] row = packet(4, textRow("hello"));
        byte[] end = packet(5, eof(2));

        ch.writeInbound(in(Arrays.copyOf(row, 4)));
        assertThat(drainInbound()).as("a header alone says nothing yet").isEmpty();
        ch.writeInbound(in(Arrays.copyOfRange(row, 4, 6)));
        assertThat(drainInbound()).containsExactly(Arrays.copyOf(row, 6));
        assertThat(decoder.hasBuffered()).isFalse();
        ch.writeInbound(in(Arrays.copyOfRange(row, 6, 8)));
        assertThat(drainInbound()).containsExactly(Arrays.copyOfRange(row, 6, 8));
        ch.writeInbound(in(concat(Arrays.copyOfRange(row, 8, row.length), end)));
        assertThat(drainInbound()).containsExactly(concat(Arrays.copyOfRange(row, 8, row.length), end));

        assertThat(unseen).containsExactly(4);
        assertThat(seen).extracting(Seen::sequenceId).as("the row is not inspected; the packet after it is")
                .containsExactly(5);
        assertThat(decoder.hasBuffered()).isFalse();
    }

    @Test
    void aPacketTheInspectorWantsWholeIsStillHeldUntilComplete() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        List<Integer> unseen = new ArrayList<>();
        decoder.setInspector(streamingRecorder(seen, unseen, 0x05));
        ch = new EmbeddedChannel(decoder);
        byte[] okPacket = packet(1, ok(2));
        ch.writeInbound(in(Arrays.copyOf(okPacket, 6)));
        assertThat(drainInbound()).isEmpty();
        ch.writeInbound(in(Arrays.copyOfRange(okPacket, 6, okPacket.length)));
        assertThat(drainInbound()).containsExactly(okPacket);
        assertThat(seen).hasSize(1);
        assertThat(unseen).isEmpty();
    }

    @Test
    void theContinuationFramesOfABigForwardedRowStreamButThoseOfADroppedPacketDoNot() {
        byte[] bigRow = PacketBytes.bytes().int1(0xfe).int8(MAX + 100L).bytes(PacketBytes.filled(MAX + 100, 'r')).build();
        byte[] row = PacketBytes.logicalPacket(4, bigRow);
        int chunk = 1 << 20;

        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        List<Integer> unseen = new ArrayList<>();
        decoder.setInspector(streamingRecorder(seen, unseen, 0xfe));
        ch = new EmbeddedChannel(decoder);
        ByteArrayCollector emitted = new ByteArrayCollector();
        for (int pos = 0; pos < row.length; pos += chunk) {
            ch.writeInbound(in(Arrays.copyOfRange(row, pos, Math.min(row.length, pos + chunk))));
            List<byte[]> out = drainInbound();
            assertThat(out).as("every read is forwarded as it arrives").hasSize(1);
            out.forEach(emitted::add);
        }
        assertThat(emitted.bytes()).isEqualTo(row);
        assertThat(unseen).containsExactly(4);
        assertThat(seen).isEmpty();
        ch.finishAndReleaseAll();

        PacketDecoder dropping = new PacketDecoder(MAX);
        dropping.setInspector((buf, start) -> PacketDecoder.DROP);
        ch = new EmbeddedChannel(dropping);
        for (int pos = 0; pos < row.length; pos += chunk) {
            ch.writeInbound(in(Arrays.copyOfRange(row, pos, Math.min(row.length, pos + chunk))));
            assertThat(drainInbound()).isEmpty();
        }
        assertThat(dropping.hasBuffered()).isFalse();
    }

    @Test
    void runModeEmitsNothingUntilAPacketIsComplete() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        decoder.setInspector(recorder(seen));
        ch = new EmbeddedChannel(decoder);
        byte[] p = packet(1, ok(2));
        for (int i = 0; i < p.length - 1; i++) {
            ch.writeInbound(in(new byte[] {p[i]}));
            assertThat(drainInbound()).isEmpty();
            assertThat(decoder.hasBuffered()).isTrue();
        }
        assertThat(seen).isEmpty();
        ch.writeInbound(in(new byte[] {p[p.length - 1]}));
        assertThat(drainInbound()).containsExactly(p);
        assertThat(seen).hasSize(1);
        assertThat(decoder.hasBuffered()).isFalse();
    }

    @Test
    void aPacketOf16MiBOrMoreIsInspectedOnceAcrossItsFrames() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        decoder.setInspector(recorder(seen));
        ch = new EmbeddedChannel(decoder);

        byte[] bigRow = PacketBytes.bytes().int1(0xfe).int8(MAX + 100L).bytes(PacketBytes.filled(MAX + 100, 'r')).build();
        byte[] row = PacketBytes.logicalPacket(4, bigRow);
        int frames = bigRow.length / MAX + 1;
        byte[] end = packet(4 + frames, eof(2));
        byte[] all = concat(row, end);

        // arrive in 1 MiB reads, so the continuation frame starts in a later read than the first frame
        int chunk = 1 << 20;
        ByteArrayCollector emitted = new ByteArrayCollector();
        for (int pos = 0; pos < all.length; pos += chunk) {
            ch.writeInbound(in(Arrays.copyOfRange(all, pos, Math.min(all.length, pos + chunk))));
            drainInbound().forEach(emitted::add);
        }
        assertThat(emitted.bytes()).isEqualTo(all);
        assertThat(seen).hasSize(2);
        assertThat(seen.get(0).payloadLength()).isEqualTo(MAX);
        assertThat(seen.get(0).firstByte()).isEqualTo(0xfe);
        assertThat(seen.get(1).sequenceId()).isEqualTo(4 + frames);
        assertThat(seen.get(1).payloadLength()).isEqualTo(5);
    }

    @Test
    void aPayloadOfExactly16MiBEndsWithAnEmptyFrameThatIsNotInspected() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        decoder.setInspector(recorder(seen));
        ch = new EmbeddedChannel(decoder);

        byte[] logical = PacketBytes.logicalPacket(0, PacketBytes.filled(MAX, 'x'));
        assertThat(logical).hasSize(4 + MAX + 4);
        byte[] next = packet(2, ok(2));
        ch.writeInbound(in(concat(logical, next)));
        assertThat(drainInbound()).hasSize(1);
        assertThat(seen).extracting(Seen::sequenceId).containsExactly(0, 2);
    }

    @Test
    void switchingToRunModeFromADownstreamHandlerAppliesToTheRestOfTheSameRead() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        List<byte[]> perPacket = new ArrayList<>();
        ch = new EmbeddedChannel(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                if (perPacket.isEmpty()) {
                    perPacket.add(ByteBufUtil.getBytes(b));
                    b.release();
                    decoder.setInspector(recorder(seen)); // e.g. after the handshake's OK
                } else {
                    ctx.fireChannelRead(msg);
                }
            }
        });
        byte[] authOk = packet(2, ok(2));
        byte[] r1 = packet(1, columnCount(1));
        byte[] r2 = packet(2, columnDef("a"));
        ch.writeInbound(in(concat(authOk, r1, r2)));
        assertThat(perPacket).containsExactly(authOk);
        assertThat(drainInbound()).containsExactly(concat(r1, r2));
        assertThat(seen).hasSize(2);
    }

    // ---- inspector actions -------------------------------------------------------------------------

    private static byte[] joined(List<byte[]> parts) {
        return concat(parts.toArray(new byte[0][]));
    }

    @Test
    void droppedPacketIsLeftOutAndSplitsTheRun() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setInspector((buf, start) -> buf.getUnsignedByte(start + 3) == 2 ? PacketDecoder.DROP : null);
        ch = new EmbeddedChannel(decoder);
        byte[] p1 = packet(1, ok(2));
        byte[] p2 = packet(2, ok(2));
        byte[] p3 = packet(3, ok(2));
        byte[] p4 = packet(4, ok(2));
        ch.writeInbound(in(concat(p1, p2, p3, p4)));
        assertThat(drainInbound()).containsExactly(p1, concat(p3, p4));
        assertThat(decoder.hasBuffered()).isFalse();
    }

    @Test
    void droppingTheFirstPacketOfAReadEmitsNoEmptyBuffer() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setInspector((buf, start) -> buf.getUnsignedByte(start + 3) == 1 ? PacketDecoder.DROP : null);
        ch = new EmbeddedChannel(decoder);
        byte[] p1 = packet(1, ok(2));
        byte[] p2 = packet(2, ok(2));
        ch.writeInbound(in(concat(p1, p2)));
        assertThat(drainInbound()).containsExactly(p2);
    }

    @Test
    void replacementPacketIsEmittedInPlaceOfTheInspectedOne() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        byte[] replacement = packet(2, ok(0, 0, 2, 0, "rewritten"));
        decoder.setInspector((buf, start) -> buf.getUnsignedByte(start + 3) == 2 ? in(replacement) : null);
        ch = new EmbeddedChannel(decoder);
        byte[] p1 = packet(1, columnCount(1));
        byte[] p2 = packet(2, ok(0, 0, 0x4002, 0, "session state"));
        byte[] p3 = packet(3, ok(2));
        ch.writeInbound(in(concat(p1, p2, p3)));
        assertThat(drainInbound()).containsExactly(p1, replacement, p3);
    }

    @Test
    void aPacketShortenedWhereItLiesIsForwardedCutAndItsTailIsSkipped() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setInspector((buf, start) -> {
            if (buf.getUnsignedByte(start + 3) != 2) {
                return null;
            }
            buf.setMediumLE(start, 3); // keep the first three payload bytes
            return PacketDecoder.SHORTENED;
        });
        ch = new EmbeddedChannel(decoder);
        byte[] p1 = packet(1, columnCount(1));
        byte[] p2 = packet(2, ok(0, 0, 0x4002, 0, "session state"));
        byte[] p3 = packet(3, ok(2));
        byte[] cut = packet(2, java.util.Arrays.copyOfRange(p2, 4, 7));
        ch.writeInbound(in(concat(p1, p2, p3)));
        assertThat(drainInbound()).as("the run up to the cut packet's new end, then the rest after its old end")
                .containsExactly(concat(p1, cut), p3);
        ch.writeInbound(in(concat(p3, p2)));
        assertThat(drainInbound()).as("shortened last packet of a read: one buffer").containsExactly(concat(p3, cut));
        assertThat(decoder.hasBuffered()).isFalse();
    }

    @Test
    void inspectorMayChangeBytesInsideThePacket() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setInspector((buf, start) -> {
            buf.setByte(start + 3, buf.getUnsignedByte(start + 3) + 10); // renumber
            return null;
        });
        ch = new EmbeddedChannel(decoder);
        ch.writeInbound(in(concat(packet(1, ok(2)), packet(2, ok(2)))));
        assertThat(drainInbound()).containsExactly(concat(packet(11, ok(2)), packet(12, ok(2))));
    }

    @Test
    void inspectorSwitchingToPerPacketModeEndsTheRunAtThatPacket() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        List<Seen> seen = new ArrayList<>();
        decoder.setInspector((buf, start) -> {
            seen.add(new Seen(start, 0, 0, 0));
            decoder.setInspector(null); // e.g. the response the proxy waited for is complete
            return null;
        });
        ch = new EmbeddedChannel(decoder);
        byte[] p1 = packet(1, ok(2));
        byte[] p2 = packet(0, comQuery("SELECT 1"));
        byte[] p3 = packet(0, comPing());
        ch.writeInbound(in(concat(p1, p2, p3)));
        assertThat(seen).hasSize(1);
        assertThat(drainInbound()).containsExactly(p1, p2, p3);
    }

    @Test
    void droppingAPacketOf16MiBOrMoreDropsAllItsFrames() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setInspector((buf, start) -> buf.getUnsignedMediumLE(start) == MAX ? PacketDecoder.DROP : null);
        ch = new EmbeddedChannel(decoder);
        byte[] before = packet(1, textRow("small"));
        byte[] big = PacketBytes.logicalPacket(2, PacketBytes.bytes().lenenc(MAX + 1L).bytes(PacketBytes.filled(MAX + 1, 'r')).build());
        byte[] after = packet(4, eof(2));
        ch.writeInbound(in(concat(before, big, after)));
        assertThat(joined(drainInbound())).isEqualTo(concat(before, after));
    }

    // ---- limits ----------------------------------------------------------------------------------

    @Test
    void perPacketModeRejectsAPayloadAboveTheLimitAsSoonAsTheHeaderArrives() {
        ch = new EmbeddedChannel(new PacketDecoder(1024));
        byte[] header = PacketBytes.bytes().int3(1025).int1(0).build();
        assertThatThrownBy(() -> ch.writeInbound(in(header)))
                .isInstanceOf(DecoderException.class)
                .hasCauseInstanceOf(MalformedPacketException.class);
        closeAfterFatalError();
    }

    /**
     * The rejected bytes stay in the decoder's buffer, so closing the channel decodes them again and
     * raises the same error a second time; the buffer is released all the same.
     */
    private void closeAfterFatalError() {
        Throwable again = catchThrowable(ch::finishAndReleaseAll);
        if (again != null) {
            assertThat(again).isInstanceOf(DecoderException.class).hasCauseInstanceOf(MalformedPacketException.class);
        }
        ch = null;
    }

    @Test
    void runModeRejectsAPayloadAboveTheLimit() {
        PacketDecoder decoder = new PacketDecoder(1024);
        decoder.setInspector((buf, start) -> null);
        ch = new EmbeddedChannel(decoder);
        byte[] tooBig = packet(1, PacketBytes.filled(1025, 'a'));
        assertThatThrownBy(() -> ch.writeInbound(in(tooBig)))
                .isInstanceOf(DecoderException.class)
                .hasCauseInstanceOf(MalformedPacketException.class);
        closeAfterFatalError();
    }

    @Test
    void aPayloadOfExactlyTheLimitIsAccepted() {
        ch = new EmbeddedChannel(new PacketDecoder(1024));
        byte[] p = packet(1, PacketBytes.filled(1024, 'a'));
        ch.writeInbound(in(p));
        assertThat(drainInbound()).containsExactly(p);
    }

    @Test
    void theLimitCanBeRaisedAfterTheHandshake() {
        PacketDecoder decoder = new PacketDecoder(16);
        ch = new EmbeddedChannel(decoder);
        decoder.setMaxPayload(MAX);
        byte[] p = packet(0, comQuery("SELECT 'longer than sixteen bytes'"));
        ch.writeInbound(in(p));
        assertThat(drainInbound()).containsExactly(p);
    }

    // ---- takeBuffered ------------------------------------------------------------------------------

    @Test
    void takeBufferedReturnsTheBytesBehindAnSslRequestWhenSingleDecodeIsOn() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setSingleDecode(true);
        List<byte[]> taken = new ArrayList<>();
        List<byte[]> packets = new ArrayList<>();
        ch = new EmbeddedChannel(decoder, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf b = (ByteBuf) msg;
                packets.add(ByteBufUtil.getBytes(b));
                b.release();
                ByteBuf rest = decoder.takeBuffered(ctx.alloc());
                tracked.add(rest);
                taken.add(ByteBufUtil.getBytes(rest));
                rest.release();
            }
        });
        byte[] sslRequest = packet(1, PacketBytes.filled(32, 0));
        byte[] clientHello = hex("16 03 01 00 05 01 00 00 01 00");
        ch.writeInbound(in(concat(sslRequest, clientHello)));

        assertThat(packets).containsExactly(sslRequest);
        assertThat(taken).containsExactly(clientHello);
        assertThat(decoder.hasBuffered()).isFalse();
    }

    @Test
    void takeBufferedAfterTheReadReturnsTheUndecodedPacketsAndNothingTwice() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        decoder.setSingleDecode(true);
        ch = new EmbeddedChannel(decoder);
        byte[] a = packet(1, PacketBytes.filled(32, 0));
        byte[] b = packet(2, ok(2));
        ch.writeInbound(in(concat(a, b, hex("01 02"))));
        assertThat(drainInbound()).containsExactly(a);
        assertThat(decoder.hasBuffered()).isTrue();

        ByteBuf rest = decoder.takeBuffered(ch.alloc());
        tracked.add(rest);
        assertThat(ByteBufUtil.getBytes(rest)).isEqualTo(concat(b, hex("01 02")));
        rest.release();
        assertThat(decoder.hasBuffered()).isFalse();

        ByteBuf none = decoder.takeBuffered(ch.alloc());
        tracked.add(none);
        assertThat(none.readableBytes()).isZero();
        none.release();
    }

    @Test
    void takeBufferedOnAFreshDecoderIsEmpty() {
        PacketDecoder decoder = new PacketDecoder(MAX);
        ch = new EmbeddedChannel(decoder);
        ByteBuf none = decoder.takeBuffered(ch.alloc());
        tracked.add(none);
        assertThat(none.readableBytes()).isZero();
        none.release();
    }

    /** Joins emitted buffers without keeping them. */
    private static final class ByteArrayCollector {
        private final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();

        void add(byte[] b) {
            out.writeBytes(b);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
