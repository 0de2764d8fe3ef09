package io.tiproxy.proxy;

import ch.qos.logback.classic.Level;
import io.tiproxy.manager.tls.ReloadableTlsContext;
import io.tiproxy.testkit.LogCapture;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestCerts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.DataInputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Renewed certificates are used without a restart or a config change: the proxy's files are replaced
 * on disk (same paths) and new connections see the new certificate, on the client side
 * ({@code security.server-tls}, read by a TLS client from the handshake) and the backend side
 * ({@code security.sql-tls}: the backend moves to a certificate of another CA and the proxy's CA file
 * follows). Broken files leave the previous certificate in use and are logged. Waits on the proxy's
 * 2-second file checks several times, so it runs with the integration tests.
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class CertReloadTest {
    static TestCerts a;
    static TestCerts b;
    static Path live;
    static MariaDbServer backend;
    static TestProxy proxy;

    @BeforeAll
    static void start() throws Exception {
        Path root = Paths.get("target", "it-data", "cert-reload-" + ProcessHandle.current().pid()).toAbsolutePath();
        a = TestCerts.create(root.resolve("a"));
        b = TestCerts.create(root.resolve("b"));
        live = Files.createDirectories(root.resolve("live"));
        copy(a.cert(), "proxy.pem");
        copy(a.key(), "proxy.key");
        copy(a.ca(), "backend-ca.pem");
        copy(a.cert(), "backend.pem");
        copy(a.key(), "backend.key");
        backend = MariaDbServer.start("cert-reload", 73, List.of(
                "ssl_cert=" + live.resolve("backend.pem"), "ssl_key=" + live.resolve("backend.key")));
        proxy = TestProxy.start(List.of(backend.address()), "  require-backend-tls: true\n",
                "security:\n"
                        + "  server-tls:\n    cert: \"" + live.resolve("proxy.pem") + "\"\n    key: \"" + live.resolve("proxy.key") + "\"\n"
                        + "  sql-tls:\n    ca: \"" + live.resolve("backend-ca.pem") + "\"\n");
    }

    @AfterAll
    static void stop() {
        if (proxy != null) {
            proxy.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private static void copy(Path from, String name) throws Exception {
        Files.copy(from, live.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    static Certificate certificateIn(Path pem) throws Exception {
        try (InputStream in = Files.newInputStream(pem)) {
            return CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** Greeting, SSLRequest, TLS handshake: the certificate the proxy presents to a new client. */
    static Certificate presentedByProxy() throws Exception {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress("127.0.0.1", proxy.port()), 5000);
            socket.setSoTimeout(10_000);
            DataInputStream in = new DataInputStream(socket.getInputStream());
            byte[] header = new byte[4];
            in.readFully(header);
            in.readFully(new byte[(header[0] & 0xff) | (header[1] & 0xff) << 8 | (header[2] & 0xff) << 16]);
            byte[] sslRequest = new byte[4 + 32];
            sslRequest[0] = 32;
            sslRequest[3] = 1;
            int caps = 0x00000200 | 0x00000800 | 0x00008000 | 0x00080000; // PROTOCOL_41, SSL, SECURE_CONNECTION, PLUGIN_AUTH
            for (int i = 0; i < 4; i++) {
                sslRequest[4 + i] = (byte) (caps >> (8 * i));
            }
            sslRequest[4 + 7] = 0x01; // max packet 16 MiB
            sslRequest[4 + 8] = 33; // utf8
            OutputStream out = socket.getOutputStream();
            out.write(sslRequest);
            out.flush();
            SSLContext tls = SSLContext.getInstance("TLS");
            tls.init(null, new TrustManager[] {new TrustEverything()}, null);
            try (SSLSocket ssl = (SSLSocket) tls.getSocketFactory().createSocket(socket, "127.0.0.1", proxy.port(), true)) {
                ssl.startHandshake();
                return ssl.getSession().getPeerCertificates()[0];
            }
        }
    }

    /** A test client that only looks at the certificate it is shown. */
    private static final class TrustEverything implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }

    static boolean canQueryThroughProxy() {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
            return rs.next();
        } catch (SQLException e) {
            return false;
        }
    }

    @Test
    void aRenewedClientSideCertificateIsServedWithoutRestart() throws Exception {
        assertThat(presentedByProxy()).isEqualTo(certificateIn(a.cert()));
        copy(b.key(), "proxy.key");
        copy(b.cert(), "proxy.pem");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                .until(() -> presentedByProxy().equals(certificateIn(b.cert())));

        try (LogCapture log = LogCapture.of(ReloadableTlsContext.class)) {
            Files.writeString(live.resolve("proxy.pem"), "-----BEGIN CERTIFICATE-----\ntruncated");
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100))
                    .until(() -> !log.messages(Level.ERROR).isEmpty());
            assertThat(log.messages(Level.ERROR)).singleElement().asString()
                    .contains("security.server-tls").contains("proxy.pem").contains("previous certificate");
            assertThat(presentedByProxy()).isEqualTo(certificateIn(b.cert()));
        }
        copy(b.cert(), "proxy.pem");
    }

    @Test
    void aRenewedBackendCaIsTrustedWithoutRestart() throws Exception {
        assertThat(canQueryThroughProxy()).isTrue();
        // the backend moves to a certificate of another CA: the proxy, verifying with the old CA, cannot log in
        copy(b.cert(), "backend.pem");
        copy(b.key(), "backend.key");
        backend.execAsAdmin("FLUSH SSL");
        assertThat(canQueryThroughProxy()).isFalse();

        copy(b.ca(), "backend-ca.pem");
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(CertReloadTest::canQueryThroughProxy);
    }
}
