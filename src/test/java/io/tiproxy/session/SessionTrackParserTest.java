package io.tiproxy.session;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** OK packets captured from MariaDB 10.11 with CLIENT_SESSION_TRACK, read into the proxy's session state. */
class SessionTrackParserTest {

    /** OK payload for {@code USE mig_db}: schema entry and state-change flag. */
    static final String USE_DB = "00000002400000000c0107066d69675f6462020131";
    /** OK payload for {@code SET SESSION sql_mode = 'ANSI_QUOTES,NO_ENGINE_SUBSTITUTION'} (in a transaction-less session). */
    static final String SET_SQL_MODE = "00000002c000000031002c0873716c5f6d6f646522414e53495f51554f5445532c4e4f5f454e47494e455f535542535449545554494f4e020131";
    /** OK payload for {@code SET time_zone = '+03:00'}. */
    static final String SET_TIME_ZONE = "00000002c00000001600110974696d655f7a6f6e65062b30333a3030020131";

    static ByteBuf payload(String hex) {
        return Unpooled.wrappedBuffer(ByteBufUtil.decodeHexDump(hex));
    }

    static void feed(TrackedState state, String hex) {
        ByteBuf b = payload(hex);
        SessionTrackParser.parse(b, 0, b.readableBytes(), state);
    }

    @Test
    void schemaAndVariablesReachTheTrackedState() {
        TrackedState state = new TrackedState("test");
        feed(state, USE_DB);
        feed(state, SET_SQL_MODE);
        feed(state, SET_TIME_ZONE);
        assertThat(state.database()).isEqualTo("mig_db");
        assertThat(state.systemVariables()).containsEntry("sql_mode", "ANSI_QUOTES,NO_ENGINE_SUBSTITUTION")
                .containsEntry("time_zone", "+03:00");
    }

    @Test
    void everyEntryIsReported() {
        List<String> seen = new ArrayList<>();
        ByteBuf b = payload(USE_DB);
        SessionTrackParser.parse(b, 0, b.readableBytes(), new SessionTrackParser.Listener() {
            @Override
            public void onSchema(String schema) {
                seen.add("schema:" + schema);
            }

            @Override
            public void onStateChanged() {
                seen.add("changed");
            }
        });
        assertThat(seen).containsExactly("schema:mig_db", "changed");
    }

    @Test
    void plainFormatRewriteDropsTheStateAndTheFlag() {
        ByteBuf packet = Unpooled.buffer();
        byte[] body = ByteBufUtil.decodeHexDump(USE_DB);
        packet.writeMediumLE(body.length).writeByte(1).writeBytes(body);
        assertThat(OkRewriter.shortenInPlace(packet, 0)).isTrue();
        int plainLength = 4 + packet.getUnsignedMediumLE(0);
        assertThat(ByteBufUtil.hexDump(packet, 0, plainLength)).isEqualTo("07000001" + "00000002000000");
        assertThat(OkRewriter.shortenInPlace(packet, 0)).as("already plain").isFalse();
        packet.release();
    }
}
