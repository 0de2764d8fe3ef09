package io.tiproxy.manager.tls;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.Collection;

/**
 * Checks that a private key belongs to the first certificate of a chain. Netty builds a context from a
 * mismatched pair without complaint and every TLS handshake then fails; that is what a renewal caught
 * half-way (new certificate, old key) looks like, so the pair is checked before a context is used.
 * Only unencrypted PKCS#8 keys ({@code BEGIN PRIVATE KEY}) of RSA, EC and EdDSA are checked; other
 * forms are left to Netty, which refuses what it cannot read.
 */
final class KeyPairCheck {
    private static final String PKCS8_BEGIN = "-----BEGIN PRIVATE KEY-----";
    private static final String PKCS8_END = "-----END PRIVATE KEY-----";

    private KeyPairCheck() {
    }

    /** Throws {@link IllegalArgumentException} when {@code key} does not match {@code cert}'s public key. */
    static void requireMatch(Path cert, Path key) {
        PublicKey publicKey = firstCertificate(cert).getPublicKey();
        PrivateKey privateKey = pkcs8Key(key, publicKey.getAlgorithm());
        if (privateKey == null) {
            return;
        }
        String algorithm = signatureAlgorithm(publicKey.getAlgorithm());
        if (algorithm == null) {
            return;
        }
        try {
            byte[] probe = new byte[32];
            new SecureRandom().nextBytes(probe);
            Signature signer = Signature.getInstance(algorithm);
            signer.initSign(privateKey);
            signer.update(probe);
            byte[] signature = signer.sign();
            Signature verifier = Signature.getInstance(algorithm);
            verifier.initVerify(publicKey);
            verifier.update(probe);
            if (!verifier.verify(signature)) {
                throw mismatch(cert, key);
            }
        } catch (GeneralSecurityException e) {
            throw mismatch(cert, key);
        }
    }

    private static IllegalArgumentException mismatch(Path cert, Path key) {
        return new IllegalArgumentException("the private key " + key + " does not belong to the certificate " + cert);
    }

    private static X509Certificate firstCertificate(Path cert) {
        try (InputStream in = Files.newInputStream(cert)) {
            Collection<? extends java.security.cert.Certificate> chain =
                    CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (chain.isEmpty()) {
                throw new IllegalArgumentException(cert + " holds no certificate");
            }
            return (X509Certificate) chain.iterator().next();
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException(cert + " holds no readable certificate: " + e.getMessage(), e);
        }
    }

    /** The key, or null when it is not an unencrypted PKCS#8 key of the certificate's algorithm. */
    private static PrivateKey pkcs8Key(Path key, String algorithm) {
        String pem;
        try {
            pem = Files.readString(key, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + key + ": " + e.getMessage(), e);
        }
        int begin = pem.indexOf(PKCS8_BEGIN);
        int end = pem.indexOf(PKCS8_END);
        if (begin < 0 || end < begin) {
            return null;
        }
        try {
            byte[] der = Base64.getMimeDecoder().decode(pem.substring(begin + PKCS8_BEGIN.length(), end));
            return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (IllegalArgumentException | GeneralSecurityException e) {
            throw new IllegalArgumentException("the private key " + key + " is not a " + algorithm
                    + " key, as the certificate's is", e);
        }
    }

    private static String signatureAlgorithm(String keyAlgorithm) {
        return switch (keyAlgorithm) {
            case "RSA" -> "SHA256withRSA";
            case "EC" -> "SHA256withECDSA";
            case "EdDSA", "Ed25519", "Ed448" -> keyAlgorithm;
            default -> null;
        };
    }
}
