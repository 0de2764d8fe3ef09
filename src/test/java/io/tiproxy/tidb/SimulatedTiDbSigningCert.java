package io.tiproxy.tidb;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.AlgorithmParameters;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.PSSParameterSpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The <em>simulated</em> TiDB's {@code security.session-token-signing-cert}/{@code -key} pair, signing and
 * checking exactly as TiDB's {@code sessionstates/session_token.go} does (TIDB-FACTS "Session token"):
 * <ul>
 *   <li>Ed25519: plain Ed25519 over the content;</li>
 *   <li>RSA: hash taken from the certificate's own signature algorithm — PKCS#1 v1.5 with SHA-256/384/512,
 *       or PSS (salt length = hash length) when the certificate is signed with RSASSA-PSS;</li>
 *   <li>ECDSA: ASN.1 DER signature over the <em>unhashed</em> content (Go truncates it to the size of the
 *       curve order), checked with {@code ecdsa.VerifyASN1}.</li>
 * </ul>
 */
final class SimulatedTiDbSigningCert {
    enum Kind { RSA, RSA_PSS, ECDSA, ED25519 }

    private final X509Certificate cert;
    private final PrivateKey key;
    private final Path certFile;
    private final Path keyFile;

    private SimulatedTiDbSigningCert(X509Certificate cert, PrivateKey key, Path certFile, Path keyFile) {
        this.cert = cert;
        this.key = key;
        this.certFile = certFile;
        this.keyFile = keyFile;
    }

    /** Generates a self-signed pair with openssl into {@code dir} (cert.pem, key.pem) and loads it. */
    static SimulatedTiDbSigningCert generate(Path dir, Kind kind) throws IOException {
        Files.createDirectories(dir);
        Path certFile = dir.resolve("cert.pem");
        Path keyFile = dir.resolve("key.pem");
        List<String> cmd = new java.util.ArrayList<>(List.of("openssl", "req", "-x509", "-nodes", "-days", "30",
                "-subj", "/CN=sim-tidb", "-keyout", keyFile.toString(), "-out", certFile.toString()));
        switch (kind) {
            case RSA -> cmd.addAll(List.of("-newkey", "rsa:2048", "-sha256"));
            case RSA_PSS -> cmd.addAll(List.of("-newkey", "rsa:2048", "-sha256", "-sigopt", "rsa_padding_mode:pss",
                    "-sigopt", "rsa_pss_saltlen:-1"));
            case ECDSA -> cmd.addAll(List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256"));
            case ED25519 -> cmd.addAll(List.of("-newkey", "ed25519"));
        }
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("openssl failed: " + out);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return load(certFile, keyFile);
    }

    /** Loads a PEM certificate and a PKCS#8 PEM key, as TiDB's tls.LoadX509KeyPair does. */
    static SimulatedTiDbSigningCert load(Path certFile, Path keyFile) throws IOException {
        try {
            X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(certFile)));
            String pem = Files.readString(keyFile);
            String b64 = pem.replaceAll("-----(BEGIN|END) PRIVATE KEY-----", "").replaceAll("\\s", "");
            byte[] der = Base64.getDecoder().decode(b64);
            String alg = switch (cert.getPublicKey().getAlgorithm()) {
                case "EC" -> "EC";
                case "EdDSA", "Ed25519" -> "Ed25519";
                case "RSASSA-PSS" -> "RSASSA-PSS";
                default -> "RSA";
            };
            PrivateKey key = KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            return new SimulatedTiDbSigningCert(cert, key, certFile, keyFile);
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot load " + certFile + " / " + keyFile + ": " + e.getMessage(), e);
        }
    }

    Path certFile() {
        return certFile;
    }

    Path keyFile() {
        return keyFile;
    }

    byte[] sign(byte[] content) throws GeneralSecurityException {
        Signature s = signature();
        s.initSign(key);
        s.update(ecdsa() ? truncatedForCurve(content) : content);
        return s.sign();
    }

    boolean verify(byte[] content, byte[] signature) {
        try {
            Signature s = signature();
            s.initVerify(cert.getPublicKey());
            s.update(ecdsa() ? truncatedForCurve(content) : content);
            return s.verify(signature);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    private boolean ecdsa() {
        return cert.getPublicKey() instanceof ECPublicKey;
    }

    /** Go's ecdsa hashes nothing: the "digest" (here: the content) is cut to the byte length of the order. */
    private byte[] truncatedForCurve(byte[] content) {
        int orderBytes = (((ECPublicKey) cert.getPublicKey()).getParams().getOrder().bitLength() + 7) / 8;
        return content.length > orderBytes ? Arrays.copyOf(content, orderBytes) : content;
    }

    private Signature signature() throws GeneralSecurityException {
        String keyAlg = cert.getPublicKey().getAlgorithm();
        if (keyAlg.equals("EdDSA") || keyAlg.equals("Ed25519")) {
            return Signature.getInstance("Ed25519");
        }
        if (ecdsa()) {
            return Signature.getInstance("NONEwithECDSA");
        }
        String sigAlg = cert.getSigAlgName();
        if (sigAlg.equalsIgnoreCase("RSASSA-PSS")) {
            AlgorithmParameters params = AlgorithmParameters.getInstance("RSASSA-PSS");
            try {
                params.init(cert.getSigAlgParams());
            } catch (IOException e) {
                throw new GeneralSecurityException("bad RSASSA-PSS parameters in the certificate", e);
            }
            PSSParameterSpec fromCert = params.getParameterSpec(PSSParameterSpec.class);
            String hash = fromCert.getDigestAlgorithm();
            int hashLen = java.security.MessageDigest.getInstance(hash).getDigestLength();
            Signature s = Signature.getInstance("RSASSA-PSS");
            s.setParameter(new PSSParameterSpec(hash, "MGF1", new MGF1ParameterSpec(hash), hashLen, 1));
            return s;
        }
        return switch (sigAlg.toUpperCase()) {
            case "SHA256WITHRSA", "SHA384WITHRSA", "SHA512WITHRSA" -> Signature.getInstance(sigAlg);
            default -> throw new GeneralSecurityException("not supported private key type '" + sigAlg + "' for signing");
        };
    }
}
