package io.tiproxy.protocol;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HexFormat;

import static io.tiproxy.protocol.Capabilities.*;
import static io.tiproxy.protocol.PacketBytes.bytes;
import static io.tiproxy.protocol.PacketBytes.hex;
import static io.tiproxy.protocol.PacketBytes.utf8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

class HandshakeCodecTest {

    private static final ByteBufAllocator ALLOC = ByteBufAllocator.DEFAULT;

    /**
     * The greeting of MariaDB 10.11.19 (Debian 12 package), captured from a server on 127.0.0.1 with
     * a plain socket read, header included: protocol 10, version with the "5.5.5-" replication prefix,
     * connection id 7, CLIENT_MYSQL clear so the last 4 reserved bytes carry MariaDB's extended
     * capabilities (0x1d), 21-byte auth data length, mysql_native_password.
     */
    static final byte[] MARIADB_10_11_GREETING = hex(
            "64000000"
            + "0a" + "352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531" + "00"
            + "07000000"
            + "2653527e482c3f39" + "00"
            + "fef7" + "08" + "0200" + "ff81" + "15"
            + "000000000000" + "1d000000"
            + "3e6b23675e263e447a5a373f" + "00"
            + "6d7973716c5f6e61746976655f70617373776f7264" + "00");

    private static ByteBuf payloadOf(byte[] packet) {
        return Unpooled.wrappedBuffer(packet, 4, packet.length - 4);
    }

    private static byte[] drain(ByteBuf b) {
        try {
            return ByteBufUtil.getBytes(b);
        } finally {
            b.release();
        }
    }

    // ---- InitialHandshake -------------------------------------------------------------------------

    @Test
    void parsesARealMariaDb1011Greeting() {
        InitialHandshake g = InitialHandshake.read(payloadOf(MARIADB_10_11_GREETING));

        assertThat(g.serverVersion()).isEqualTo("5.5.5-10.11.19-MariaDB-0+deb12u1");
        assertThat(g.connectionId()).isEqualTo(7);
        assertThat(g.salt()).isEqualTo(utf8("&SR~H,?9>k#g^&>DzZ7?")).hasSize(20);
        assertThat(g.capabilities()).isEqualTo(0x81fff7feL | (0x1dL << 32));
        assertThat(has(g.capabilities(), CLIENT_MYSQL)).isFalse();
        assertThat(has(g.capabilities(), CLIENT_PROTOCOL_41)).isTrue();
        assertThat(has(g.capabilities(), CLIENT_PLUGIN_AUTH)).isTrue();
        assertThat(has(g.capabilities(), CLIENT_DEPRECATE_EOF)).isTrue();
        assertThat(has(g.capabilities(), CLIENT_SESSION_TRACK)).isTrue();
        assertThat(has(g.capabilities(), MARIADB_CLIENT_PROGRESS)).isTrue();
        assertThat(has(g.capabilities(), MARIADB_CLIENT_COM_MULTI)).isFalse();
        assertThat(has(g.capabilities(), MARIADB_CLIENT_STMT_BULK_OPERATIONS)).isTrue();
        assertThat(has(g.capabilities(), MARIADB_CLIENT_EXTENDED_METADATA)).isTrue();
        assertThat(has(g.capabilities(), MARIADB_CLIENT_CACHE_METADATA)).isTrue();
        assertThat(g.charset()).isEqualTo(8);
        assertThat(g.status()).isEqualTo(ServerStatus.SERVER_STATUS_AUTOCOMMIT);
        assertThat(g.authPlugin()).isEqualTo("mysql_native_password");
        assertThat(g.isTiDB()).isFalse();
    }

    @Test
    void rewritingTheRealMariaDbGreetingReproducesItByteForByte() {
        InitialHandshake g = InitialHandshake.read(payloadOf(MARIADB_10_11_GREETING));
        assertThat(HexFormat.of().formatHex(drain(g.write(ALLOC))))
                .isEqualTo(HexFormat.of().formatHex(MARIADB_10_11_GREETING));
    }

    @Test
    void mysqlStyleGreetingRoundTripsWithZeroedReservedBytes() {
        byte[] salt = utf8("abcdefghijklmnopqrst");
        long caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH
                | CLIENT_CONNECT_WITH_DB | CLIENT_DEPRECATE_EOF | CLIENT_SESSION_TRACK | CLIENT_SSL;
        InitialHandshake h = new InitialHandshake("8.0.11-TiDB-v8.5.0", 0xfedcba98L, salt, caps, 45, 2,
                "caching_sha2_password");
        byte[] wire = drain(h.write(ALLOC));

        byte[] expectedPayload = bytes().int1(10).strNul("8.0.11-TiDB-v8.5.0").int4(0xfedcba98L)
                .bytes(Arrays.copyOf(salt, 8)).int1(0)
                .int2((int) (caps & 0xffff)).int1(45).int2(2).int2((int) (caps >>> 16)).int1(21)
                .zeros(10).bytes(Arrays.copyOfRange(salt, 8, 20)).int1(0)
                .strNul("caching_sha2_password").build();
        assertThat(wire).isEqualTo(PacketBytes.packet(0, expectedPayload));

        InitialHandshake back = InitialHandshake.read(payloadOf(wire));
        assertThat(back.serverVersion()).isEqualTo(h.serverVersion());
        assertThat(back.connectionId()).isEqualTo(0xfedcba98L);
        assertThat(back.salt()).isEqualTo(salt);
        assertThat(back.capabilities()).isEqualTo(caps);
        assertThat(back.charset()).isEqualTo(45);
        assertThat(back.status()).isEqualTo(2);
        assertThat(back.authPlugin()).isEqualTo("caching_sha2_password");
        assertThat(back.isTiDB()).isTrue();
    }

    @Test
    void mysqlStyleGreetingIgnoresTheReservedBytesWhenClientMysqlIsSet() {
        byte[] payload = bytes().int1(10).strNul("8.0.36").int4(1).str("12345678").int1(0)
                .int2((int) ((CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION) & 0xffff))
                .int1(255).int2(2).int2((int) (CLIENT_PLUGIN_AUTH >>> 16)).int1(21)
                .zeros(6).int4(0xffffffffL) // garbage in the reserved area must not become capabilities
                .str("abcdefghijkl").int1(0).strNul("mysql_native_password").build();
        InitialHandshake g = InitialHandshake.read(Unpooled.wrappedBuffer(payload));
        assertThat(g.capabilities() >>> 32).isZero();
        assertThat(g.salt()).isEqualTo(utf8("12345678abcdefghijkl"));
    }

    @Test
    void mariaDbStyleGreetingCarriesExtendedCapabilitiesInTheUpper32Bits() {
        byte[] salt = utf8("ABCDEFGHIJKLMNOPQRST");
        long caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS
                | CLIENT_DEPRECATE_EOF | MARIADB_CLIENT_STMT_BULK_OPERATIONS | MARIADB_CLIENT_EXTENDED_METADATA;
        InitialHandshake h = new InitialHandshake("5.5.5-10.11.6-MariaDB", 42, salt, caps, 8, 2, "mysql_native_password");
        byte[] wire = drain(h.write(ALLOC));
        // last 4 of the 10 reserved bytes: MariaDB capabilities >>> 32
        int reserved = 4 + 1 + "5.5.5-10.11.6-MariaDB".length() + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1;
        assertThat(Arrays.copyOfRange(wire, reserved, reserved + 10)).isEqualTo(hex("000000000000 0c000000"));

        InitialHandshake back = InitialHandshake.read(payloadOf(wire));
        assertThat(back.capabilities()).isEqualTo(caps);
        assertThat(back.salt()).isEqualTo(salt);
        assertThat(back.connectionId()).isEqualTo(42);
    }

    @Test
    void truncatedGreetingIsMalformedNeverIndexOutOfBounds() {
        byte[] payload = Arrays.copyOfRange(MARIADB_10_11_GREETING, 4, MARIADB_10_11_GREETING.length);
        int preProtocol41End = 49;  // a greeting may legally end after the lower capability flags
        int reservedEnd = 65;       // charset, status, upper flags, auth data length, reserved
        for (int n = 0; n < payload.length; n++) {
            ByteBuf cut = Unpooled.wrappedBuffer(Arrays.copyOf(payload, n));
            Throwable t = catchThrowable(() -> InitialHandshake.read(cut));
            if (n < preProtocol41End || (n > preProtocol41End && n < reservedEnd)) {
                assertThat(t).as("cut at %d", n).isInstanceOf(MalformedPacketException.class);
            } else if (t != null) {
                assertThat(t).as("cut at %d", n).isInstanceOf(MalformedPacketException.class);
            }
        }
    }

    @Test
    void unknownProtocolVersionIsMalformed() {
        byte[] payload = Arrays.copyOfRange(MARIADB_10_11_GREETING, 4, MARIADB_10_11_GREETING.length);
        payload[0] = 9;
        assertThatThrownBy(() -> InitialHandshake.read(Unpooled.wrappedBuffer(payload)))
                .isInstanceOf(MalformedPacketException.class);
    }

    // ---- HandshakeResponse ------------------------------------------------------------------------

    private static final long CLIENT_BASE = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION
            | CLIENT_PLUGIN_AUTH | CLIENT_TRANSACTIONS | CLIENT_MULTI_RESULTS | CLIENT_LONG_FLAG;

    /** A HandshakeResponse41 as a client writes it, following the documented field order. */
    private static byte[] clientResponse(long caps, String user, byte[] auth, String db, String plugin, byte[] attrs) {
        PacketBytes.Bytes b = bytes().int4(caps & 0xffffffffL).int4(0x1000000).int1(45).zeros(19);
        b.int4(has(caps, CLIENT_MYSQL) ? 0 : caps >>> 32);
        b.strNul(user);
        if (has(caps, CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)) {
            b.bytesLenenc(auth);
        } else {
            b.int1(auth.length).bytes(auth);
        }
        if (has(caps, CLIENT_CONNECT_WITH_DB)) {
            b.strNul(db);
        }
        if (has(caps, CLIENT_PLUGIN_AUTH)) {
            b.strNul(plugin);
        }
        if (has(caps, CLIENT_CONNECT_ATTRS)) {
            b.bytesLenenc(attrs);
        }
        return b.build();
    }

    private static final byte[] SCRAMBLE = hex("0102030405060708090a0b0c0d0e0f1011121314");

    @Test
    void responseWithDatabaseRoundTrips() {
        long caps = CLIENT_BASE | CLIENT_CONNECT_WITH_DB;
        byte[] payload = clientResponse(caps, "app", SCRAMBLE, "shop", "mysql_native_password", null);

        HandshakeResponse r = HandshakeResponse.read(Unpooled.wrappedBuffer(payload));
        assertThat(r.capabilities()).isEqualTo(caps);
        assertThat(r.maxPacketSize()).isEqualTo(0x1000000);
        assertThat(r.charset()).isEqualTo(45);
        assertThat(r.user()).isEqualTo("app");
        assertThat(r.authResponse()).isEqualTo(SCRAMBLE);
        assertThat(r.database()).isEqualTo("shop");
        assertThat(r.authPlugin()).isEqualTo("mysql_native_password");
        assertThat(r.connectAttrs()).isNull();

        assertThat(drain(r.write(ALLOC, 1))).isEqualTo(PacketBytes.packet(1, payload));
    }

    @Test
    void responseWithoutDatabaseDoesNotMistakeThePluginForADatabase() {
        long caps = CLIENT_BASE;
        byte[] payload = clientResponse(caps, "app", SCRAMBLE, null, "mysql_native_password", null);

        HandshakeResponse r = HandshakeResponse.read(Unpooled.wrappedBuffer(payload));
        assertThat(r.database()).isNull();
        assertThat(r.authPlugin()).isEqualTo("mysql_native_password");
        assertThat(drain(r.write(ALLOC, 1))).isEqualTo(PacketBytes.packet(1, payload));
    }

    @Test
    void responseWithLenencAuthDataLongerThan250BytesRoundTrips() {
        long caps = CLIENT_BASE | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_WITH_DB;
        byte[] auth = new byte[300];
        for (int i = 0; i < auth.length; i++) {
            auth[i] = (byte) i;
        }
        byte[] payload = clientResponse(caps, "u", auth, "db", "dialog", null);
        int authPrefix = 32 + 2;
        assertThat(Arrays.copyOfRange(payload, authPrefix, authPrefix + 3)).isEqualTo(hex("fc 2c 01"));

        HandshakeResponse r = HandshakeResponse.read(Unpooled.wrappedBuffer(payload));
        assertThat(r.authResponse()).isEqualTo(auth);
        assertThat(r.database()).isEqualTo("db");
        assertThat(r.authPlugin()).isEqualTo("dialog");
        assertThat(drain(r.write(ALLOC, 1))).isEqualTo(PacketBytes.packet(1, payload));
    }

    @Test
    void longAuthDataWithoutLenencCapabilityIsRefusedOnWrite() {
        HandshakeResponse r = new HandshakeResponse(CLIENT_BASE, 0x1000000, 45, "u", new byte[256], null,
                "dialog", null);
        PacketsTest.RecordingAllocator alloc = new PacketsTest.RecordingAllocator();
        assertThatThrownBy(() -> r.write(alloc, 1)).isInstanceOf(IllegalArgumentException.class);
        alloc.releaseUnreleased(); // see PacketsTest.buildReleasesItsBufferWhenThePayloadWriterThrows
    }

    @Test
    void responseWithConnectAttrsRoundTrips() {
        long caps = CLIENT_BASE | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_ATTRS | CLIENT_CONNECT_WITH_DB;
        byte[] attrs = PacketBytes.connectAttrs("_client_name", "MariaDB Connector/J", "_client_version", "3.5.11",
                "_server_host", "127.0.0.1", "_thread", "1");
        byte[] payload = clientResponse(caps, "app", SCRAMBLE, "", "mysql_native_password", attrs);

        HandshakeResponse r = HandshakeResponse.read(Unpooled.wrappedBuffer(payload));
        assertThat(r.database()).isEmpty();
        assertThat(r.connectAttrs()).isEqualTo(attrs);
        assertThat(drain(r.write(ALLOC, 1))).isEqualTo(PacketBytes.packet(1, payload));
    }

    @Test
    void responseFromAMariaDbClientCarriesExtendedCapabilities() {
        long caps = (CLIENT_BASE & ~CLIENT_MYSQL) | CLIENT_DEPRECATE_EOF | MARIADB_CLIENT_EXTENDED_METADATA
                | MARIADB_CLIENT_STMT_BULK_OPERATIONS;
        byte[] payload = clientResponse(caps, "app", SCRAMBLE, null, "mysql_native_password", null);
        ByteBuf in = Unpooled.wrappedBuffer(payload);

        assertThat(HandshakeResponse.peekCapabilities(in)).isEqualTo(caps);
        assertThat(in.readerIndex()).isZero();
        HandshakeResponse r = HandshakeResponse.read(in);
        assertThat(r.capabilities()).isEqualTo(caps);
        assertThat(drain(r.write(ALLOC, 1))).isEqualTo(PacketBytes.packet(1, payload));
    }

    @Test
    void forBackendReplacesOnlyCapabilitiesAuthAndPlugin() {
        byte[] attrs = PacketBytes.connectAttrs("_client_name", "x");
        HandshakeResponse r = new HandshakeResponse(CLIENT_BASE | CLIENT_CONNECT_WITH_DB, 1024, 33, "app", SCRAMBLE,
                "shop", "mysql_native_password", attrs);
        HandshakeResponse b = r.forBackend(CLIENT_BASE | CLIENT_CONNECT_ATTRS, new byte[0], "auth_unknown_plugin");
        assertThat(b.capabilities()).isEqualTo(CLIENT_BASE | CLIENT_CONNECT_ATTRS);
        assertThat(b.authResponse()).isEmpty();
        assertThat(b.authPlugin()).isEqualTo("auth_unknown_plugin");
        assertThat(b.user()).isEqualTo("app");
        assertThat(b.database()).isEqualTo("shop");
        assertThat(b.charset()).isEqualTo(33);
        assertThat(b.maxPacketSize()).isEqualTo(1024);
        assertThat(b.connectAttrs()).isEqualTo(attrs);
    }

    @Test
    void toStringNeverContainsAuthData() {
        byte[] auth = utf8("S3cr3tScrambleBytes!");
        HandshakeResponse r = new HandshakeResponse(CLIENT_BASE, 0, 45, "app", auth, "db", "mysql_native_password", null);
        String s = r.toString();
        assertThat(s).contains("app")
                .doesNotContain("S3cr3t")
                .doesNotContainIgnoringCase(HexFormat.of().formatHex(auth))
                .doesNotContain(Arrays.toString(auth))
                .doesNotContain(java.util.Base64.getEncoder().encodeToString(auth));
    }

    @Test
    void sslRequestIsExactlyTheFirst32BytesOfTheResponse() {
        long caps = CLIENT_BASE | CLIENT_SSL | CLIENT_CONNECT_WITH_DB;
        byte[] full = clientResponse(caps, "app", SCRAMBLE, "db", "mysql_native_password", null);
        HandshakeResponse r = HandshakeResponse.read(Unpooled.wrappedBuffer(full));

        byte[] ssl = drain(r.writeSslRequest(ALLOC, 1));
        assertThat(ssl).hasSize(4 + HandshakeResponse.SSL_REQUEST_LENGTH);
        assertThat(ssl).isEqualTo(PacketBytes.packet(1, Arrays.copyOf(full, 32)));
        assertThat(HandshakeResponse.peekCapabilities(Unpooled.wrappedBuffer(ssl, 4, 32))).isEqualTo(caps);
    }

    @Test
    void sslRequestOfAMariaDbClientCarriesExtendedCapabilities() {
        long caps = (CLIENT_BASE & ~CLIENT_MYSQL) | CLIENT_SSL | MARIADB_CLIENT_EXTENDED_METADATA;
        HandshakeResponse r = new HandshakeResponse(caps, 0x1000000, 45, "app", SCRAMBLE, null, "mysql_native_password", null);
        byte[] ssl = drain(r.writeSslRequest(ALLOC, 1));
        assertThat(ssl).isEqualTo(PacketBytes.packet(1, bytes().int4(caps & 0xffffffffL).int4(0x1000000).int1(45)
                .zeros(19).int4(caps >>> 32).build()));
        assertThat(HandshakeResponse.peekCapabilities(Unpooled.wrappedBuffer(ssl, 4, 32))).isEqualTo(caps);
    }

    @Test
    void responseShorterThanTheFixedPartIsMalformed() {
        for (int n = 0; n < 32; n++) {
            ByteBuf in = Unpooled.wrappedBuffer(new byte[n]);
            assertThatThrownBy(() -> HandshakeResponse.read(in)).isInstanceOf(MalformedPacketException.class);
        }
    }

    @Test
    void truncatedResponseIsMalformedNeverIndexOutOfBounds() {
        long caps = CLIENT_BASE | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS;
        byte[] attrs = PacketBytes.connectAttrs("_client_name", "libmariadb");
        byte[] full = clientResponse(caps, "app", SCRAMBLE, "shop", "mysql_native_password", attrs);
        for (int n = 0; n < full.length; n++) {
            ByteBuf in = Unpooled.wrappedBuffer(Arrays.copyOf(full, n));
            Throwable t = catchThrowable(() -> HandshakeResponse.read(in));
            if (t != null) {
                assertThat(t).as("cut at %d", n).isInstanceOf(MalformedPacketException.class);
            }
        }
        int userEnd = 32 + 4; // "app" NUL
        // inside the user name, inside the auth data, inside the database name, inside the attributes
        for (int n : new int[] {33, userEnd + 1, userEnd + 10, userEnd + 21 + 2, full.length - 1}) {
            ByteBuf in = Unpooled.wrappedBuffer(Arrays.copyOf(full, n));
            assertThatThrownBy(() -> HandshakeResponse.read(in)).as("cut at %d", n)
                    .isInstanceOf(MalformedPacketException.class);
        }
    }

    @Test
    void authLengthBeyondThePacketIsMalformed() {
        byte[] payload = bytes().int4(CLIENT_BASE).int4(0).int1(45).zeros(23).strNul("app").int1(20).str("short").build();
        assertThatThrownBy(() -> HandshakeResponse.read(Unpooled.wrappedBuffer(payload)))
                .isInstanceOf(MalformedPacketException.class);
    }

    @Test
    void preProtocol41ResponseIsRefused() {
        byte[] payload = bytes().int4(CLIENT_MYSQL | CLIENT_SECURE_CONNECTION).int4(0).int1(8).zeros(23).strNul("u")
                .int1(0).build();
        assertThatThrownBy(() -> HandshakeResponse.read(Unpooled.wrappedBuffer(payload)))
                .isInstanceOf(MalformedPacketException.class);
    }

    // ---- AuthSwitchRequest ------------------------------------------------------------------------

    @Test
    void authSwitchRequestRoundTripsAndStripsTheSaltNul() {
        byte[] salt = utf8("0123456789abcdefghij");
        byte[] payload = PacketBytes.authSwitch("mysql_native_password", PacketBytes.concat(salt, new byte[] {0}));
        AuthSwitchRequest a = AuthSwitchRequest.read(Unpooled.wrappedBuffer(payload));
        assertThat(a.plugin()).isEqualTo("mysql_native_password");
        assertThat(a.salt()).isEqualTo(salt);
        assertThat(drain(a.write(ALLOC, 2))).isEqualTo(PacketBytes.packet(2, payload));
        assertThatThrownBy(() -> AuthSwitchRequest.read(Unpooled.wrappedBuffer(PacketBytes.ok(2))))
                .isInstanceOf(MalformedPacketException.class);
        assertThatThrownBy(() -> AuthSwitchRequest.read(Unpooled.wrappedBuffer(hex("fe 6d 79"))))
                .isInstanceOf(MalformedPacketException.class);
    }
}
