package io.tiproxy.manager.config;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A network address as written in the config: {@code host:port}, with IPv6 hosts in brackets
 * ({@code [::1]:6000}). The host is kept as written (a name is not resolved here).
 *
 * <p>Port 0 is allowed by this type (it means "any free port" when binding, which tests use);
 * the config loader accepts it only for listener addresses ({@code proxy.addr}, {@code api.addr}).
 */
public record HostPort(String host, int port) {

    public HostPort {
        Objects.requireNonNull(host, "host");
        if (host.isEmpty()) {
            throw new IllegalArgumentException("host must not be empty");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " is out of range 0-65535");
        }
    }

    /**
     * Parses {@code host:port} or {@code [ipv6]:port}.
     *
     * @throws IllegalArgumentException with a message like {@code "abc" is not host:port}
     */
    public static HostPort parse(String text) {
        Objects.requireNonNull(text, "text");
        String s = text.strip();
        String host;
        String port;
        if (s.startsWith("[")) {
            int close = s.indexOf(']');
            if (close < 0 || close + 1 >= s.length() || s.charAt(close + 1) != ':') {
                throw notHostPort(text, null);
            }
            host = s.substring(1, close);
            port = s.substring(close + 2);
            if (host.isEmpty() || host.indexOf(':') < 0) {
                throw notHostPort(text, "only IPv6 addresses go in brackets");
            }
        } else {
            int colon = s.lastIndexOf(':');
            if (colon <= 0) {
                throw notHostPort(text, null);
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
            if (host.indexOf(':') >= 0) {
                throw notHostPort(text, "write IPv6 addresses in brackets, as [::1]:6000");
            }
        }
        return new HostPort(host, parsePort(text, port));
    }

    private static int parsePort(String text, String port) {
        if (port.isEmpty() || port.length() > 5 || !port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw notHostPort(text, null);
        }
        int value = Integer.parseInt(port);
        if (value > 65535) {
            throw notHostPort(text, "port must be 0-65535");
        }
        return value;
    }

    private static IllegalArgumentException notHostPort(String text, String why) {
        String message = "\"" + text + "\" is not host:port";
        return new IllegalArgumentException(why == null ? message : message + ": " + why);
    }

    /** Resolves the host (a name may block on DNS) into a socket address. */
    public InetSocketAddress toInetSocketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** {@code host:port}, or {@code [host]:port} for IPv6; {@link #parse} reads it back. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
