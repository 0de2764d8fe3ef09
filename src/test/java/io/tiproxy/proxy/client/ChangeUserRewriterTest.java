package io.tiproxy.proxy.client;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.tiproxy.protocol.MalformedPacketException;
import io.tiproxy.protocol.PacketBytes;
import org.junit.jupiter.api.Test;

import java.util.HexFormat;

import static io.tiproxy.protocol.Capabilities.*;
import static io.tiproxy.protocol.PacketBytes.bytes;
import static io.tiproxy.protocol.PacketBytes.comChangeUser;
import static io.tiproxy.protocol.PacketBytes.connectAttrs;
import static io.tiproxy.protocol.PacketBytes.hex;
import static io.tiproxy.protocol.PacketBytes.packet;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ChangeUserRewriterTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;
    private static final long CAPS = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
            | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS;
    private static final byte[] SCRAMBLE = hex("0102030405060708090a0b0c0d0e0f1011121314");

    private static byte[] rewrite(byte[] packetBytes, long caps) {
        ByteBuf in = Unpooled.wrappedBuffer(packetBytes);
        ByteBuf out = ChangeUserRewriter.rewrite(in, caps, ALLOC);
        try {
            assertThat(in.refCnt()).as("the caller still owns the client's packet").isEqualTo(1);
            assertThat(in.readerIndex()).as("the client's packet is not consumed").isZero();
            return ByteBufUtil.getBytes(out);
        } finally {
            out.release();
            in.release();
        }
    }

    @Test
    void keepsUserDatabaseCharsetAndAttributesAndDropsTheScramble() {
        byte[] attrs = connectAttrs("_client_name", "libmariadb", "_os", "Linux", "program_name", "mariadb");
        byte[] original = packet(0, comChangeUser("bob", SCRAMBLE, "shop", 45, "mysql_native_password", attrs));

        byte[] rewritten = rewrite(original, CAPS | CLIENT_CONNECT_ATTRS);

        byte[] expected = packet(0, comChangeUser("bob", new byte[0], "shop", 45, "auth_unknown_plugin", attrs));
        assertThat(HexFormat.of().formatHex(rewritten)).isEqualTo(HexFormat.of().formatHex(expected));
    }

    @Test
    void parseReadsEveryField() {
        byte[] attrs = connectAttrs("_client_name", "MariaDB Connector/J");
        ByteBuf in = Unpooled.wrappedBuffer(packet(0,
                comChangeUser("alice", SCRAMBLE, "db1", 0x0900, "mysql_native_password", attrs)));
        ChangeUserRewriter.ChangeUser cu = ChangeUserRewriter.parse(in, CAPS | CLIENT_CONNECT_ATTRS);
        assertThat(cu.user()).isEqualTo("alice");
        assertThat(cu.database()).isEqualTo("db1");
        assertThat(cu.charset()).isEqualTo(0x0900);
        assertThat(cu.connectAttrs()).isEqualTo(attrs);
        in.release();
    }

    @Test
    void withoutConnectAttrsNoneAreWritten() {
        byte[] original = packet(0, comChangeUser("bob", SCRAMBLE, "", 33, "mysql_native_password", null));
        byte[] rewritten = rewrite(original, CAPS);
        assertThat(rewritten).isEqualTo(packet(0, comChangeUser("bob", new byte[0], "", 33, "auth_unknown_plugin", null)));
    }

    @Test
    void authDataBecomesEmptyAndThePluginForcesAnAuthSwitch() {
        byte[] original = packet(0, comChangeUser("u", SCRAMBLE, "d", 45, "client_ed25519", null));
        byte[] rewritten = rewrite(original, CAPS);
        // header(4) 0x11 'u' NUL auth-length
        assertThat(rewritten[4]).isEqualTo((byte) 0x11);
        assertThat(rewritten[7]).as("auth data length").isZero();
        assertThat(new String(rewritten, 4, rewritten.length - 4, java.nio.charset.StandardCharsets.ISO_8859_1))
                .endsWith("auth_unknown_plugin\0")
                .doesNotContain("client_ed25519");
        assertThat(ChangeUserRewriter.FORCE_SWITCH_PLUGIN).isEqualTo("auth_unknown_plugin");
    }

    @Test
    void sequenceIdIsZeroAndLengthIsTheRewrittenPayload() {
        byte[] original = packet(0, comChangeUser("bob", SCRAMBLE, "shop", 45, "mysql_native_password", null));
        byte[] rewritten = rewrite(original, CAPS);
        int len = (rewritten[0] & 0xff) | (rewritten[1] & 0xff) << 8 | (rewritten[2] & 0xff) << 16;
        assertThat(len).isEqualTo(rewritten.length - 4);
        assertThat(rewritten[3]).isZero();
    }

    @Test
    void acceptsAPacketStartingAtANonZeroReaderIndex() {
        byte[] body = packet(0, comChangeUser("bob", SCRAMBLE, "shop", 45, "mysql_native_password", null));
        ByteBuf in = Unpooled.wrappedBuffer(PacketBytes.concat(hex("ffffff"), body));
        in.skipBytes(3);
        ByteBuf out = ChangeUserRewriter.rewrite(in, CAPS, ALLOC);
        assertThat(ByteBufUtil.getBytes(out))
                .isEqualTo(packet(0, comChangeUser("bob", new byte[0], "shop", 45, "auth_unknown_plugin", null)));
        out.release();
        in.release();
    }

    @Test
    void clientWithoutPluginAuthStillGetsThePluginForTheBackend() {
        byte[] payload = bytes().int1(0x11).strNul("bob").int1(20).bytes(SCRAMBLE).strNul("shop").int2(8).build();
        byte[] rewritten = rewrite(packet(0, payload), CAPS & ~CLIENT_PLUGIN_AUTH);
        assertThat(rewritten).isEqualTo(packet(0, comChangeUser("bob", new byte[0], "shop", 8, "auth_unknown_plugin", null)));
    }

    @Test
    void truncatedChangeUserIsMalformed() {
        byte[] full = comChangeUser("bob", SCRAMBLE, "shop", 45, "mysql_native_password", null);
        // inside the user name, inside the scramble, inside the database name
        for (int n : new int[] {1, 3, 6, 15, 27}) {
            byte[] cut = java.util.Arrays.copyOf(full, n);
            ByteBuf in = Unpooled.wrappedBuffer(packet(0, cut));
            assertThatThrownBy(() -> ChangeUserRewriter.rewrite(in, CAPS, ALLOC)).as("cut at %d", n)
                    .isInstanceOf(MalformedPacketException.class);
            in.release();
        }
    }
}
