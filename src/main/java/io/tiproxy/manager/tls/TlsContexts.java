package io.tiproxy.manager.tls;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.tiproxy.manager.config.TlsConfig;
import io.tiproxy.manager.config.TlsVersion;

import javax.net.ssl.SSLException;
import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds Netty TLS contexts from the {@code security.*-tls} settings ({@link CertManager} keeps them current). */
public final class TlsContexts {
    private TlsContexts() {}

    /**
     * Context for accepting TLS clients, or null when server TLS is not configured. Throws
     * {@link SSLException} or {@link IllegalArgumentException} when the files are unreadable, or the
     * key does not belong to the certificate.
     */
    public static SslContext forServer(TlsConfig cfg) throws SSLException {
        if (!cfg.enabledAsServer()) {
            return null;
        }
        KeyPairCheck.requireMatch(Path.of(cfg.cert()), Path.of(cfg.key()));
        SslContextBuilder b = SslContextBuilder.forServer(new File(cfg.cert()), new File(cfg.key()))
                .protocols(protocols(cfg.minTlsVersion()));
        if (!cfg.ca().isEmpty()) {
            b.trustManager(new File(cfg.ca())).clientAuth(ClientAuth.REQUIRE);
        }
        return b.build();
    }

    /** Context for TLS towards backends, or null for plaintext; throws as {@link #forServer} does. */
    public static SslContext forClient(TlsConfig cfg) throws SSLException {
        if (!cfg.enabledAsClient()) {
            return null;
        }
        SslContextBuilder b = SslContextBuilder.forClient().protocols(protocols(cfg.minTlsVersion()));
        if (cfg.skipCa()) {
            b.trustManager(InsecureTrustManagerFactory.INSTANCE);
        } else {
            b.trustManager(new File(cfg.ca())).endpointIdentificationAlgorithm("HTTPS");
        }
        if (cfg.hasCertificate()) {
            KeyPairCheck.requireMatch(Path.of(cfg.cert()), Path.of(cfg.key()));
            b.keyManager(new File(cfg.cert()), new File(cfg.key()));
        }
        return b.build();
    }

    private static String[] protocols(TlsVersion min) {
        List<String> out = new ArrayList<>();
        for (TlsVersion v : TlsVersion.values()) {
            if (v.compareTo(min) >= 0) {
                out.add(v.jdkName());
            }
        }
        return out.toArray(String[]::new);
    }
}
