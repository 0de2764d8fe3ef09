package io.tiproxy.manager.config;

import io.tiproxy.manager.config.ConfigKey.Rendering;
import java.util.Objects;

/**
 * The {@code backend} section: the service account the proxy uses on backends (to read account
 * hashes from {@code mysql.global_priv} so MySQL/MariaDB sessions can re-authenticate after a move).
 * {@link #toString()} never shows the password.
 *
 * @param serviceUser     account name; empty means no service account
 * @param servicePassword its password
 * @param proxyProtocol   whether the proxy opens each backend connection with a PROXY protocol header
 *                        carrying the client's address (the backend must trust the proxy for it)
 */
public record BackendConfig(String serviceUser, @ConfigKey(render = Rendering.MASKED) String servicePassword,
                            ProxyProtocol proxyProtocol) {

    public BackendConfig {
        Objects.requireNonNull(serviceUser, "serviceUser");
        Objects.requireNonNull(servicePassword, "servicePassword");
        Objects.requireNonNull(proxyProtocol, "proxyProtocol");
    }

    /** The section's values when the file does not set them. */
    public static BackendConfig defaults() {
        return new BackendConfig("", "", ProxyProtocol.NONE);
    }

    /** True when a service account is configured. */
    public boolean hasServiceAccount() {
        return !serviceUser.isEmpty();
    }

    @Override
    public String toString() {
        return "BackendConfig[serviceUser=" + serviceUser + ", servicePassword="
                + (servicePassword.isEmpty() ? "" : "******") + ", proxyProtocol=" + proxyProtocol + "]";
    }
}
