package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.RawMySqlClient;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestCerts;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** TLS between client and proxy and between proxy and backend, negotiated independently. */
class TlsTest {
    static TestCerts certs;
    static MariaDbServer tlsBackend;

    @BeforeAll
    static void start() {
        certs = TestCerts.create(Paths.get("target", "it-data", "certs-" + ProcessHandle.current().pid()));
        tlsBackend = MariaDbServer.start("tls", 41, List.of(
                "ssl_ca=" + certs.ca().toAbsolutePath(),
                "ssl_cert=" + certs.cert().toAbsolutePath(),
                "ssl_key=" + certs.key().toAbsolutePath()));
    }

    @AfterAll
    static void stop() {
        tlsBackend.close();
    }

    static String serverTls(boolean require) {
        return "security:\n  server-tls:\n    cert: \"" + abs(certs.cert()) + "\"\n    key: \"" + abs(certs.key()) + "\"\n"
                + (require ? "    require: true\n" : "");
    }

    static String sqlTls() {
        return "  sql-tls:\n    ca: \"" + abs(certs.ca()) + "\"\n";
    }

    static String abs(Path p) {
        return p.toAbsolutePath().toString();
    }

    static String ssl(Connection c, String variable) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SHOW SESSION STATUS LIKE '" + variable + "'")) {
            return rs.next() ? rs.getString(2) : "";
        }
    }

    @Test
    void clientTlsToProxyWithVerifiedCertificate() throws Exception {
        try (TestProxy proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "", serverTls(false))) {
            String url = proxy.mariadbUrl("sslMode=verify-full&serverSslCert=" + abs(certs.ca()));
            try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(c.isValid(2)).isTrue();
                assertThat(ssl(c, "Ssl_version")).as("backend link stays plaintext").isEmpty();
            }
            String mysqlUrl = "jdbc:mysql://127.0.0.1:" + proxy.port() + "/test?sslMode=REQUIRED";
            try (Connection c = DriverManager.getConnection(mysqlUrl, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(c.isValid(2)).isTrue();
            }
            // plaintext still allowed when TLS is not required
            try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(c.isValid(2)).isTrue();
            }
        }
    }

    @Test
    void requiredClientTlsRefusesPlaintextWithAClearError() throws Exception {
        try (TestProxy proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "", serverTls(true))) {
            try (RawMySqlClient raw = new RawMySqlClient(proxy.port(), 5000)) {
                RawMySqlClient.Packet p = raw.login(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD, null);
                assertThat(p.isErr()).isTrue();
                assertThat(p.errorCode()).isEqualTo(3159);
                assertThat(p.errorMessage()).contains("requires TLS");
            }
            String url = proxy.mariadbUrl("sslMode=verify-ca&serverSslCert=" + abs(certs.ca()));
            try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(c.isValid(2)).isTrue();
            }
        }
    }

    @Test
    void backendTlsVerifiesTheBackendCertificate() throws Exception {
        try (TestProxy proxy = TestProxy.start(List.of(tlsBackend.address()), "", "security:\n" + sqlTls())) {
            try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(ssl(c, "Ssl_version")).startsWith("TLSv1.");
            }
        }
    }

    @Test
    void bothSidesTlsAtOnce() throws Exception {
        try (TestProxy proxy = TestProxy.start(List.of(tlsBackend.address()), "", serverTls(false) + sqlTls())) {
            String url = proxy.mariadbUrl("sslMode=verify-full&serverSslCert=" + abs(certs.ca()));
            try (Connection c = DriverManager.getConnection(url, TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
                assertThat(ssl(c, "Ssl_version")).startsWith("TLSv1.");
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT REPEAT('a', 1000000)")) {
                    rs.next();
                    assertThat(rs.getString(1)).hasSize(1_000_000);
                }
            }
        }
    }

    @Test
    void requireBackendTlsRefusesAPlaintextBackend() {
        try (TestProxy proxy = TestProxy.start(MariaDbCluster.shared().addresses(), "  require-backend-tls: true\n", "security:\n" + sqlTls())) {
            assertThatThrownBy(() -> DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD))
                    .isInstanceOfSatisfying(SQLException.class, e -> assertThat(e.getMessage()).contains("require-backend-tls"));
        }
    }
}
