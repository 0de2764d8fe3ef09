package io.tiproxy.manager.config;

/** {@code min-tls-version}: the oldest TLS protocol version that is accepted. */
public enum TlsVersion implements ConfigEnum {
    TLS_1_0("1.0", "TLSv1"),
    TLS_1_1("1.1", "TLSv1.1"),
    TLS_1_2("1.2", "TLSv1.2"),
    TLS_1_3("1.3", "TLSv1.3");

    private final String configName;
    private final String jdkName;

    TlsVersion(String configName, String jdkName) {
        this.configName = configName;
        this.jdkName = jdkName;
    }

    @Override
    public String configName() {
        return configName;
    }

    /** The protocol name the JDK and Netty's {@code SslContextBuilder.protocols} use, e.g. {@code "TLSv1.2"}. */
    public String jdkName() {
        return jdkName;
    }
}
