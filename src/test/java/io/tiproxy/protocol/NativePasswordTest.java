package io.tiproxy.protocol;

import org.junit.jupiter.api.Test;

import java.security.MessageDigest;
import java.util.HexFormat;

import static io.tiproxy.protocol.PacketBytes.hex;
import static io.tiproxy.protocol.PacketBytes.utf8;
import static org.assertj.core.api.Assertions.assertThat;

class NativePasswordTest {

    /** The salt of the captured MariaDB 10.11 greeting (see HandshakeCodecTest). */
    private static final byte[] SALT = utf8("&SR~H,?9>k#g^&>DzZ7?");
    private static final byte[] PASSWORD = utf8("password");
    /** SHA1("password"), computed with Python's hashlib. */
    private static final byte[] HASH1 = hex("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8");
    /** What MariaDB stores for PASSWORD('password'): *2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19. */
    private static final byte[] STORED_HASH2 = HexFormat.of().parseHex("2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
    /** SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))), computed with Python's hashlib. */
    private static final byte[] SCRAMBLE = hex("6f7aea54bf456acfc93f8fc8e3c411831638c516");

    private static byte[] sha1(byte[]... parts) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-1");
        for (byte[] p : parts) {
            md.update(p);
        }
        return md.digest();
    }

    @Test
    void scrambleMatchesAnIndependentlyComputedVector() {
        assertThat(NativePassword.scramble(PASSWORD, SALT)).isEqualTo(SCRAMBLE);
        assertThat(NativePassword.scrambleFromHash1(HASH1, SALT)).isEqualTo(SCRAMBLE);
    }

    @Test
    void scrambleFollowsTheDocumentedFormulaForOtherInputs() throws Exception {
        byte[] salt = hex("0102030405060708090a0b0c0d0e0f1011121314");
        byte[] password = utf8("pä$$wörd with spaces");
        byte[] h1 = sha1(password);
        byte[] mask = sha1(salt, sha1(h1));
        byte[] expected = new byte[20];
        for (int i = 0; i < 20; i++) {
            expected[i] = (byte) (h1[i] ^ mask[i]);
        }
        assertThat(NativePassword.scramble(password, salt)).isEqualTo(expected);
    }

    @Test
    void emptyPasswordGivesAnEmptyScramble() {
        assertThat(NativePassword.scramble(new byte[0], SALT)).isEmpty();
    }

    @Test
    void storedHashIsSha1OfSha1() throws Exception {
        assertThat(sha1(HASH1)).isEqualTo(STORED_HASH2);
        assertThat(NativePassword.sha1(NativePassword.sha1(PASSWORD))).isEqualTo(STORED_HASH2);
    }

    @Test
    void recoverHash1ReturnsSha1OfThePasswordForACorrectScramble() {
        assertThat(NativePassword.recoverHash1(SCRAMBLE, SALT, STORED_HASH2)).isEqualTo(HASH1);
    }

    @Test
    void recoveredHashAnswersAFreshSalt() {
        byte[] hash1 = NativePassword.recoverHash1(SCRAMBLE, SALT, STORED_HASH2);
        byte[] newSalt = utf8("ZYXWVUTSRQPONMLKJIHG");
        assertThat(NativePassword.scrambleFromHash1(hash1, newSalt))
                .isEqualTo(NativePassword.scramble(PASSWORD, newSalt));
    }

    @Test
    void recoverHash1ReturnsNullForAWrongScramble() {
        byte[] wrong = SCRAMBLE.clone();
        wrong[0] ^= 1;
        assertThat(NativePassword.recoverHash1(wrong, SALT, STORED_HASH2)).isNull();
        // right password, other salt
        assertThat(NativePassword.recoverHash1(SCRAMBLE, utf8("ABCDEFGHIJKLMNOPQRST"), STORED_HASH2)).isNull();
        // scramble of another password
        assertThat(NativePassword.recoverHash1(NativePassword.scramble(utf8("Password"), SALT), SALT, STORED_HASH2)).isNull();
    }

    @Test
    void recoverHash1ReturnsNullForMalformedLengths() {
        assertThat(NativePassword.recoverHash1(new byte[0], SALT, STORED_HASH2)).isNull();
        assertThat(NativePassword.recoverHash1(new byte[19], SALT, STORED_HASH2)).isNull();
        assertThat(NativePassword.recoverHash1(SCRAMBLE, SALT, new byte[0])).isNull();
    }
}
