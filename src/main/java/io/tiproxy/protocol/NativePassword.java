package io.tiproxy.protocol;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * mysql_native_password: scramble = SHA1(password) XOR SHA1(salt + SHA1(SHA1(password))).
 * Knowing the stored hash SHA1(SHA1(password)) and a client's scramble for a known salt reveals
 * SHA1(password), which can answer any later salt: the basis of re-authentication on migration.
 */
public final class NativePassword {
    private NativePassword() {}

    public static final String PLUGIN = "mysql_native_password";

    public static byte[] sha1(byte[]... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-1");
            for (byte[] p : parts) {
                md.update(p);
            }
            return md.digest();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The scramble for a salt, from SHA1(password). */
    public static byte[] scrambleFromHash1(byte[] hash1, byte[] salt) {
        byte[] hash2 = sha1(hash1);
        byte[] mask = sha1(salt, hash2);
        return xor(hash1, mask);
    }

    public static byte[] scramble(byte[] password, byte[] salt) {
        if (password.length == 0) {
            return new byte[0];
        }
        return scrambleFromHash1(sha1(password), salt);
    }

    /**
     * Recovers SHA1(password) from a scramble, or returns null if the scramble does not match the stored hash.
     *
     * @param storedHash2 SHA1(SHA1(password)), as stored in mysql.user (without the leading '*', decoded from hex)
     */
    public static byte[] recoverHash1(byte[] scramble, byte[] salt, byte[] storedHash2) {
        if (scramble.length != 20 || storedHash2.length != 20) {
            return null;
        }
        byte[] hash1 = xor(scramble, sha1(salt, storedHash2));
        return MessageDigest.isEqual(sha1(hash1), storedHash2) ? hash1 : null;
    }

    private static byte[] xor(byte[] a, byte[] b) {
        byte[] out = new byte[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (byte) (a[i] ^ b[i]);
        }
        return out;
    }
}
