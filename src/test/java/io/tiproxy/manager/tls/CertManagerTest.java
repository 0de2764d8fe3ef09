package io.tiproxy.manager.tls;

import ch.qos.logback.classic.Level;
import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.tiproxy.manager.config.SecurityConfig;
import io.tiproxy.manager.config.TlsConfig;
import io.tiproxy.manager.config.TlsVersion;
import io.tiproxy.testkit.LogCapture;
import io.tiproxy.testkit.TestCerts;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.net.ssl.SSLException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * Certificate files changing under a running {@link CertManager}: real certificates (openssl), real
 * files, and a real TLS handshake against the context to see which certificate it presents.
 */
class CertManagerTest {
    static TestCerts a;
    static TestCerts b;
    static Path root;
    private Path live;
    private Path cert;
    private Path key;

    @BeforeAll
    static void certificates() {
        root = Paths.get("target", "it-data", "cert-manager-" + ProcessHandle.current().pid()).toAbsolutePath();
        a = TestCerts.create(root.resolve("a"));
        b = TestCerts.create(root.resolve("b"));
    }

    @BeforeEach
    void liveFiles() throws Exception {
        live = Files.createTempDirectory(root, "live");
        cert = live.resolve("server.pem");
        key = live.resolve("server.key");
        install(a);
    }

    private void install(TestCerts certs) throws Exception {
        Files.copy(certs.key(), key, StandardCopyOption.REPLACE_EXISTING);
        Files.copy(certs.cert(), cert, StandardCopyOption.REPLACE_EXISTING);
    }

    private SecurityConfig serverTlsAt(Path certFile, Path keyFile) {
        TlsConfig server = new TlsConfig(certFile.toString(), keyFile.toString(), "", false, TlsVersion.TLS_1_2, false);
        return new SecurityConfig(server, TlsConfig.defaults(), TlsConfig.defaults());
    }

    /** The certificate a TLS client sees from {@code server}, by a handshake between two embedded channels. */
    static Certificate presented(SslContext server) throws Exception {
        SslContext client = SslContextBuilder.forClient().trustManager(InsecureTrustManagerFactory.INSTANCE).build();
        EmbeddedChannel s = new EmbeddedChannel(server.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT));
        SslHandler clientSsl = client.newHandler(io.netty.buffer.ByteBufAllocator.DEFAULT);
        EmbeddedChannel c = new EmbeddedChannel(clientSsl);
        try {
            for (int round = 0; round < 20 && !clientSsl.handshakeFuture().isDone(); round++) {
                shuttle(c, s);
                shuttle(s, c);
            }
            assertThat(clientSsl.handshakeFuture().isSuccess()).as("TLS handshake").isTrue();
            return clientSsl.engine().getSession().getPeerCertificates()[0];
        } finally {
            c.finishAndReleaseAll();
            s.finishAndReleaseAll();
        }
    }

    private static void shuttle(EmbeddedChannel from, EmbeddedChannel to) {
        for (ByteBuf out; (out = from.readOutbound()) != null; ) {
            to.writeInbound(out);
        }
    }

    static Certificate certificateIn(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    @Test
    void changedFilesAreUsedOnceTheyHaveSettled() throws Exception {
        CertManager certs = new CertManager(serverTlsAt(cert, key), Duration.ofSeconds(1));
        SslContext first = certs.serverTls().current();
        assertThat(presented(first)).isEqualTo(certificateIn(a.cert()));
        certs.checkFiles();
        assertThat(certs.serverTls().current()).as("unchanged files").isSameAs(first);

        install(b);
        certs.checkFiles();
        assertThat(certs.serverTls().current()).as("just changed: maybe still being written").isSameAs(first);
        certs.checkFiles();
        assertThat(certs.serverTls().current()).isNotSameAs(first);
        assertThat(presented(certs.serverTls().current())).isEqualTo(certificateIn(b.cert()));
    }

    @Test
    void brokenFilesKeepThePreviousCertificateAndAreReportedOnce() throws Exception {
        CertManager certs = new CertManager(serverTlsAt(cert, key), Duration.ofSeconds(1));
        SslContext first = certs.serverTls().current();
        try (LogCapture log = LogCapture.of(ReloadableTlsContext.class)) {
            Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
            for (int i = 0; i < 5; i++) {
                certs.checkFiles();
            }
            assertThat(certs.serverTls().current()).isSameAs(first);
            assertThat(log.messages(Level.ERROR)).hasSize(1).first().asString()
                    .contains("security.server-tls").contains(cert.toString()).contains("previous certificate");

            install(b); // fixed
            certs.checkFiles();
            certs.checkFiles();
            assertThat(presented(certs.serverTls().current())).isEqualTo(certificateIn(b.cert()));
            assertThat(log.messages(Level.INFO)).anyMatch(m -> m.contains("reloaded"));
        }
    }

    @Test
    void aKeyOfAnotherCertificateIsRefused() throws Exception {
        CertManager certs = new CertManager(serverTlsAt(cert, key), Duration.ofSeconds(1));
        SslContext first = certs.serverTls().current();
        try (LogCapture log = LogCapture.of(ReloadableTlsContext.class)) {
            Files.copy(b.cert(), cert, StandardCopyOption.REPLACE_EXISTING); // renewal caught half-way: old key
            certs.checkFiles();
            certs.checkFiles();
            assertThat(certs.serverTls().current()).isSameAs(first);
            assertThat(log.messages(Level.ERROR)).singleElement().asString().contains("does not belong to the certificate");
        }
        assertThatThrownBy(() -> new CertManager(serverTlsAt(b.cert(), a.key()), Duration.ofSeconds(1)))
                .isInstanceOf(SSLException.class).hasMessageContaining("security.server-tls");
    }

    @Test
    void aReloadedConfigWithBadFilesChangesNothing() throws Exception {
        CertManager certs = new CertManager(serverTlsAt(cert, key), Duration.ofSeconds(1));
        SslContext first = certs.serverTls().current();
        Path garbage = live.resolve("garbage.pem");
        Files.writeString(garbage, "nothing here");
        TlsConfig sql = new TlsConfig("", "", garbage.toString(), false, TlsVersion.TLS_1_2, false);
        SecurityConfig next = new SecurityConfig(serverTlsAt(b.cert(), b.key()).serverTls(), sql, TlsConfig.defaults());
        assertThatThrownBy(() -> certs.stage(next)).isInstanceOf(SSLException.class).hasMessageContaining("security.sql-tls");
        assertThat(certs.serverTls().current()).isSameAs(first);
        assertThat(certs.sqlTls().current()).isNull();

        certs.stage(serverTlsAt(b.cert(), b.key())).commit();
        assertThat(presented(certs.serverTls().current())).isEqualTo(certificateIn(b.cert()));
    }

    @Test
    void itsThreadNoticesChangesAndTellsListeners() throws Exception {
        try (CertManager certs = new CertManager(serverTlsAt(cert, key), Duration.ofMillis(100))) {
            AtomicInteger reloads = new AtomicInteger();
            certs.onReload(reloads::incrementAndGet);
            certs.start();
            install(b);
            await().atMost(Duration.ofSeconds(20)).until(() -> reloads.get() == 1);
            assertThat(presented(certs.serverTls().current())).isEqualTo(certificateIn(b.cert()));
        }
    }
}
