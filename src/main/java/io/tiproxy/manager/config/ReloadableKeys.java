package io.tiproxy.manager.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Which config keys a running proxy takes without a restart. A reload is all or nothing: when a
 * key outside this list differs from the running config, {@link ConfigReloader} refuses the whole
 * new config (and says which key), rather than applying part of it and leaving the file and the
 * proxy out of step without anyone noticing.
 *
 * <table>
 * <caption>Hot-reloadable keys and when they take effect</caption>
 * <tr><th>key</th><th>takes effect</th></tr>
 * <tr><td>{@code proxy.backends}</td><td>at once: backends added/removed (removed ones drain)</td></tr>
 * <tr><td>{@code proxy.fail-backend-list}</td><td>at once: listed backends drain, others undrain</td></tr>
 * <tr><td>{@code proxy.max-connections}</td><td>for new connections (existing ones stay)</td></tr>
 * <tr><td>{@code proxy.handshake-timeout}</td><td>for new connections</td></tr>
 * <tr><td>{@code proxy.server-version}</td><td>for new connections</td></tr>
 * <tr><td>{@code proxy.proxy-protocol-networks}</td><td>for new connections</td></tr>
 * <tr><td>{@code proxy.idle-timeout}</td><td>at once, for every session</td></tr>
 * <tr><td>{@code proxy.max-heap-usage-percent}</td><td>for new connections</td></tr>
 * <tr><td>{@code health-check.*}</td><td>from each backend's next check</td></tr>
 * <tr><td>{@code balance.*}</td><td>from the next rebalancing round</td></tr>
 * <tr><td>{@code proxy.require-backend-tls}</td><td>for new backend connections</td></tr>
 * <tr><td>{@code proxy.graceful-wait-before-shutdown}, {@code proxy.graceful-close-conn-timeout}</td>
 *     <td>at the next shutdown</td></tr>
 * <tr><td>{@code backend.service-user}, {@code backend.service-password}</td>
 *     <td>for the next account-hash lookup and each backend's next health check</td></tr>
 * <tr><td>{@code security.server-tls.*}, {@code security.sql-tls.*}</td>
 *     <td>for new connections (certificates re-read; a renewed certificate at the same paths is loaded
 *     without any config change, see {@code CertManager})</td></tr>
 * <tr><td>{@code log.*} (level, encoder, log-file)</td><td>at once</td></tr>
 * <tr><td>{@code api.user}, {@code api.password}, {@code api.token}</td><td>for the next API request</td></tr>
 * </table>
 *
 * <p>Not reloadable, need a restart: {@code proxy.addr}, {@code api.addr} (listeners are bound once),
 * {@code proxy.pd-addrs} (the discovery source is chosen once), {@code proxy.proxy-protocol} (part
 * of the listener's pipeline), {@code backend.proxy-protocol}. A key added to the config later is not reloadable until listed here.
 */
public final class ReloadableKeys {
    /** Exact key paths, or section prefixes ending in '.' covering every key below them. */
    private static final Set<String> RELOADABLE = Set.of(
            "proxy.backends",
            "proxy.fail-backend-list",
            "proxy.max-connections",
            "proxy.handshake-timeout",
            "proxy.server-version",
            "proxy.proxy-protocol-networks",
            "proxy.idle-timeout",
            "proxy.max-heap-usage-percent",
            "health-check.",
            "balance.",
            "proxy.require-backend-tls",
            "proxy.graceful-wait-before-shutdown",
            "proxy.graceful-close-conn-timeout",
            "backend.service-user",
            "backend.service-password",
            "api.user",
            "api.password",
            "api.token",
            "security.",
            "log.");

    private ReloadableKeys() {
    }

    /** Whether a dotted key path ({@code proxy.max-connections}) can change without a restart. */
    public static boolean isReloadable(String keyPath) {
        for (String entry : RELOADABLE) {
            if (entry.endsWith(".") ? keyPath.startsWith(entry) : keyPath.equals(entry)) {
                return true;
            }
        }
        return false;
    }

    /**
     * The keys whose values differ between two configs, in file order, each as
     * {@code key: old -> new} (secrets masked). Secrets that differ only in value are not listed.
     */
    public static List<String> changes(TiProxyConfig from, TiProxyConfig to) {
        Map<String, Object> before = flatten(ConfigRenderer.tree(from));
        Map<String, Object> after = flatten(ConfigRenderer.tree(to));
        List<String> changes = new ArrayList<>();
        before.forEach((key, value) -> {
            if (!Objects.equals(value, after.get(key))) {
                changes.add(key + ": " + value + " -> " + after.get(key));
            }
        });
        return changes;
    }

    /** The changes from {@link #changes} whose keys need a restart. */
    public static List<String> restartNeeded(TiProxyConfig from, TiProxyConfig to) {
        return changes(from, to).stream().filter(c -> !isReloadable(c.substring(0, c.indexOf(':')))).toList();
    }

    /** Every key path of a config, in file order. */
    static List<String> keys(TiProxyConfig config) {
        return List.copyOf(flatten(ConfigRenderer.tree(config)).keySet());
    }

    private static Map<String, Object> flatten(Map<String, Object> tree) {
        Map<String, Object> flat = new LinkedHashMap<>();
        flattenInto("", tree, flat);
        return flat;
    }

    private static void flattenInto(String prefix, Map<String, Object> tree, Map<String, Object> flat) {
        tree.forEach((key, value) -> {
            if (value instanceof Map<?, ?> section) {
                @SuppressWarnings("unchecked")
                Map<String, Object> child = (Map<String, Object>) section;
                flattenInto(prefix + key + ".", child, flat);
            } else {
                flat.put(prefix + key, value);
            }
        });
    }
}
