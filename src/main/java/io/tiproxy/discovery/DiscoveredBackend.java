package io.tiproxy.discovery;

import java.util.Map;
import java.util.Objects;

/**
 * One backend as a {@link BackendSource} reports it.
 *
 * @param address    {@code host:port} of the SQL port ({@code [v6]:port} for IPv6); the key everywhere in the proxy
 * @param statusPort TiDB status port from the topology {@code info}, or 0 when unknown (static backends, MariaDB)
 * @param labels     topology labels (zone, ...); empty when none
 * @param version    server version from the topology {@code info} (e.g. {@code v8.5.0}); empty when unknown
 */
public record DiscoveredBackend(String address, int statusPort, Map<String, String> labels, String version) {

    public DiscoveredBackend {
        Objects.requireNonNull(address, "address");
        if (statusPort < 0 || statusPort > 65535) {
            throw new IllegalArgumentException("status port " + statusPort + " is out of range");
        }
        labels = Map.copyOf(labels);
        Objects.requireNonNull(version, "version");
        splitHostPort(address); // validates
    }

    /** A backend known only by its address (static configuration). */
    public static DiscoveredBackend ofAddress(String address) {
        return new DiscoveredBackend(address, 0, Map.of(), "");
    }

    /** The host part of {@link #address()}, without IPv6 brackets. */
    public String host() {
        return splitHostPort(address)[0];
    }

    /** The SQL port. */
    public int port() {
        return Integer.parseInt(splitHostPort(address)[1]);
    }

    /** True when the topology gave a TiDB status port to probe. */
    public boolean hasStatusPort() {
        return statusPort > 0;
    }

    private static String[] splitHostPort(String address) {
        String host;
        String port;
        if (address.startsWith("[")) {
            int close = address.indexOf(']');
            if (close < 0 || close + 2 > address.length() || address.charAt(close + 1) != ':') {
                throw new IllegalArgumentException("\"" + address + "\" is not [ipv6]:port");
            }
            host = address.substring(1, close);
            port = address.substring(close + 2);
        } else {
            int colon = address.lastIndexOf(':');
            if (colon <= 0 || address.indexOf(':') != colon) {
                throw new IllegalArgumentException("\"" + address + "\" is not host:port");
            }
            host = address.substring(0, colon);
            port = address.substring(colon + 1);
        }
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(Character::isDigit)
                || Integer.parseInt(port) > 65535) {
            throw new IllegalArgumentException("\"" + address + "\" has no valid port");
        }
        return new String[] {host, port};
    }
}
