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
 */
public record BackendConfig(String serviceUser, @ConfigKey(render = Rendering.MASKED) String servicePassword) {

    public BackendConfig {
        Objects.requireNonNull(serviceUser, "serviceUser");
        Objects.requireNonNull(servicePassword, "servicePassword");
    }

    /** The section's values when the file does not set them. */
    public static BackendConfig defaults() {
        return new BackendConfig("", "");
    }

    /** True when a service account is configured. */
    public boolean hasServiceAccount() {
        return !serviceUser.isEmpty();
    }

    @Override
    public String toString() {
        return "BackendConfig[serviceUser=" + serviceUser + ", servicePassword="
                + (servicePassword.isEmpty() ? "" : "******") + "]";
    }
}
