package io.tiproxy.manager.config;

/** {@code proxy.proxy-protocol}: whether clients' connections start with a PROXY protocol header. */
public enum ProxyProtocol implements ConfigEnum {
    /** No PROXY header is expected ({@code ""} in the file). */
    NONE(""),
    /** A PROXY protocol v2 header is expected. */
    V2("v2");

    private final String configName;

    ProxyProtocol(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
