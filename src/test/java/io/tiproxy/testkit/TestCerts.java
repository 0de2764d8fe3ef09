package io.tiproxy.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** A throw-away CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
public record TestCerts(Path ca, Path caKey, Path cert, Path key) {

    public static TestCerts create(Path where) {
        Path dir = where.toAbsolutePath();
        try {
            Files.createDirectories(dir);
            Path ca = dir.resolve("ca.pem");
            Path caKey = dir.resolve("ca.key");
            Path cert = dir.resolve("server.pem");
            Path key = dir.resolve("server.key");
            Path csr = dir.resolve("server.csr");
            Path ext = dir.resolve("ext.cnf");
            Files.writeString(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
            run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey.toString(),
                    "-out", ca.toString(), "-subj", "/CN=TiProxy Test CA", "-days", "3");
            run(dir, "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key.toString(),
                    "-out", csr.toString(), "-subj", "/CN=127.0.0.1");
            run(dir, "openssl", "x509", "-req", "-in", csr.toString(), "-CA", ca.toString(), "-CAkey", caKey.toString(),
                    "-CAcreateserial", "-out", cert.toString(), "-days", "3", "-extfile", ext.toString());
            return new TestCerts(ca, caKey, cert, key);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create test certificates", e);
        }
    }

    private static void run(Path dir, String... cmd) throws IOException {
        Process p = new ProcessBuilder(List.of(cmd)).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile()).start();
        try {
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", cmd) + " failed: " + Files.readString(dir.resolve("openssl.log")));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }
}
