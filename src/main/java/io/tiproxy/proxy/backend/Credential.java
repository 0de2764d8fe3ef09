package io.tiproxy.proxy.backend;

import io.tiproxy.protocol.NativePassword;

/**
 * How the proxy logs a session in on another backend without the client's help. Held in memory only,
 * per session; {@code toString} never shows the secret.
 */
public sealed interface Credential {

    /** SHA1(password) of a mysql_native_password account: answers any salt. */
    record NativeHash(byte[] hash1) implements Credential {
        /** The scramble for a salt; an account without password answers with empty auth data. */
        public byte[] scramble(byte[] salt) {
            if (hash1.length == 0) {
                return new byte[0];
            }
            return NativePassword.scrambleFromHash1(hash1, salt);
        }

        @Override
        public String toString() {
            return "NativeHash[******]";
        }
    }

    /** A TiDB session token (JSON) for the tidb_session_token plugin. */
    record SessionToken(byte[] token) implements Credential {
        @Override
        public String toString() {
            return "SessionToken[******]";
        }
    }

    static NativeHash ofPassword(String password) {
        return new NativeHash(NativePassword.sha1(password.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }
}
