package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * One immutable snapshot of the whole configuration, as read from {@code conf/proxy.yaml} by
 * {@link ConfigLoader}. Components that care about changes receive a new snapshot; they never
 * see one change under them.
 */
public record TiProxyConfig(ProxyConfig proxy, ApiConfig api, BackendConfig backend,
                            HealthCheckConfig healthCheck, BalanceConfig balance,
                            SecurityConfig security, LogConfig log) {

    public TiProxyConfig {
        Objects.requireNonNull(proxy, "proxy");
        Objects.requireNonNull(api, "api");
        Objects.requireNonNull(backend, "backend");
        Objects.requireNonNull(healthCheck, "healthCheck");
        Objects.requireNonNull(balance, "balance");
        Objects.requireNonNull(security, "security");
        Objects.requireNonNull(log, "log");
    }

    /** The configuration an empty file gives. */
    public static TiProxyConfig defaults() {
        return new TiProxyConfig(ProxyConfig.defaults(), ApiConfig.defaults(), BackendConfig.defaults(),
                HealthCheckConfig.defaults(), BalanceConfig.defaults(), SecurityConfig.defaults(), LogConfig.defaults());
    }

    /**
     * SHA-256 (hex) of the canonical JSON rendering: equal configs have equal checksums, on any
     * machine. Secrets are masked in that rendering, so changing only a password does not change it.
     */
    public String checksum() {
        return ConfigRenderer.checksum(this);
    }

    /** The config as compact JSON with the file's kebab-case keys; secrets shown as {@code "******"}. */
    public String toJson() {
        return ConfigRenderer.toJson(this);
    }

    /** The config as YAML that {@link ConfigLoader} reads back; secrets shown as {@code "******"}. */
    public String toYaml() {
        return ConfigRenderer.toYaml(this);
    }
}
