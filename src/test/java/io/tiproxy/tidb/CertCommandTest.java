package io.tiproxy.tidb;

import io.tiproxy.cli.CertCommand;
import io.tiproxy.testkit.MariaDbCluster;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code tiproxyctl cert generate}: a pair a (simulated) TiDB can load and sign session tokens with. */
class CertCommandTest {
    @TempDir
    Path dir;

    /** Fact "Session token": the generated pair works as security.session-token-signing-cert/-key on every TiDB. */
    @ParameterizedTest
    @ValueSource(strings = {"rsa", "ecdsa", "ed25519"})
    void generatedPairSignsTokensThatAnotherTiDbAccepts(String algorithm) throws Exception {
        StringWriter out = new StringWriter();
        CommandLine cmd = new CommandLine(new CertCommand());
        cmd.setOut(new PrintWriter(out));
        int code = cmd.execute("generate", "--out", dir.toString(), "--algorithm", algorithm);
        assertThat(code).isZero();
        assertThat(out.toString()).contains("session-token-signing-cert = \"" + dir.resolve("cert.pem").toAbsolutePath(),
                "session-token-signing-key = \"" + dir.resolve("key.pem").toAbsolutePath(), "graceful-wait-before-shutdown");
        SimulatedTiDbSigningCert cert = SimulatedTiDbSigningCert.load(dir.resolve("cert.pem"), dir.resolve("key.pem"));
        try (SimulatedTiDb a = new SimulatedTiDb("a", MariaDbCluster.shared().servers().get(0));
             SimulatedTiDb b = new SimulatedTiDb("b", MariaDbCluster.shared().servers().get(1))) {
            a.loadSigningCert(cert);
            b.loadSigningCert(cert);
            try (Connection c = SimulatedTiDbTokenLoginTest.connect(a)) {
                byte[] token = SimulatedTiDbTokenLoginTest.token(c);
                assertThat(SimulatedTiDbTokenLoginTest.tokenLogin(b, "app", token).isOk()).isTrue();
            }
        }
    }

    @Test
    void refusesToOverwriteWithoutForce() {
        CommandLine cmd = new CommandLine(new CertCommand());
        cmd.setOut(new PrintWriter(new StringWriter()));
        StringWriter err = new StringWriter();
        cmd.setErr(new PrintWriter(err));
        assertThat(cmd.execute("generate", "--out", dir.toString())).isZero();
        assertThat(cmd.execute("generate", "--out", dir.toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--force");
        assertThat(cmd.execute("generate", "--out", dir.toString(), "--force")).isZero();
    }

    @Test
    void saysClearlyWhenOpensslIsMissing() {
        CommandLine cmd = new CommandLine(new CertCommand());
        StringWriter err = new StringWriter();
        cmd.setErr(new PrintWriter(err));
        assertThat(cmd.execute("generate", "--out", dir.toString(), "--openssl", "/nonexistent/openssl")).isEqualTo(1);
        assertThat(err.toString()).contains("is openssl installed");
        assertThat(new String(err.toString().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8)).isNotEmpty();
    }
}
