package io.tiproxy.cli;

import io.netty.handler.ssl.JdkSslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import java.io.File;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;

/**
 * tiproxyctl's HTTPS settings ({@code --ca}, {@code --cert}/{@code --key}, {@code --insecure}). PEM files
 * are read with Netty's builder, which yields a plain JDK {@link SSLContext} for {@link java.net.http.HttpClient}.
 *
 * @param ca       CA bundle to verify the server with; null: the JDK's trusted CAs
 * @param cert     client certificate to present; null: none
 * @param key      its private key
 * @param insecure skip verifying the server's certificate and host name
 */
record CtlTls(String ca, String cert, String key, boolean insecure) {

    /** The JDK context these settings describe. */
    SSLContext sslContext() {
        SslContextBuilder builder = SslContextBuilder.forClient().sslProvider(SslProvider.JDK);
        if (insecure) {
            builder.trustManager(InsecureTrustManagerFactory.INSTANCE);
            // java.net.http checks the host name separately from the trust manager; a CLI process may switch it off
            System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
        } else if (ca != null) {
            builder.trustManager(readable(ca, "--ca"));
        }
        if (cert != null) {
            builder.keyManager(readable(cert, "--cert"), readable(key, "--key"));
        }
        try {
            return ((JdkSslContext) builder.build()).context();
        } catch (SSLException | IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot use the TLS files given: " + e.getMessage(), e);
        }
    }

    private static File readable(String path, String option) {
        File file = new File(path);
        if (!file.canRead()) {
            throw new IllegalArgumentException(option + " " + path + ": no such readable file");
        }
        return file;
    }
}
