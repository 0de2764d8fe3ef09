package io.tiproxy.discovery;

import java.util.Objects;
import java.util.Optional;

/**
 * Key layout of the topology in PD's etcd, as TiDB writes it:
 * {@code /topology/<component>/<ip>:<port>/info} (JSON, no lease) and
 * {@code /topology/<component>/<ip>:<port>/ttl} (Unix nanoseconds, under a session lease). A keyspace
 * cluster puts the same tree under {@code /keyspaces/tidb/<keyspace>}.
 *
 * @param component {@code tidb}, {@code tiproxy}, ...
 * @param keyspace  keyspace name, or empty for the default tree
 */
public record TopologyPaths(String component, String keyspace) {
    public static final String TIDB = "tidb";
    public static final String TIPROXY = "tiproxy";
    public static final String INFO = "info";
    public static final String TTL = "ttl";

    /** Which of a backend's two keys a key is. */
    public enum KeyKind { INFO, TTL }

    /** A key under {@link #prefix()} taken apart. */
    public record ParsedKey(String address, KeyKind kind) {}

    public TopologyPaths {
        Objects.requireNonNull(component, "component");
        Objects.requireNonNull(keyspace, "keyspace");
        if (component.isEmpty() || component.contains("/")) {
            throw new IllegalArgumentException("bad topology component \"" + component + "\"");
        }
        if (keyspace.contains("/")) {
            throw new IllegalArgumentException("bad keyspace \"" + keyspace + "\"");
        }
    }

    /** The TiDB tree without keyspace. */
    public static TopologyPaths tidb() {
        return new TopologyPaths(TIDB, "");
    }

    /** {@code [/keyspaces/tidb/<keyspace>]/topology/<component>/}, with the trailing slash. */
    public String prefix() {
        String root = keyspace.isEmpty() ? "" : "/keyspaces/tidb/" + keyspace;
        return root + "/topology/" + component + "/";
    }

    /** {@code <prefix><address>/}: both keys of one member. */
    public String memberPrefix(String address) {
        return prefix() + address + "/";
    }

    public String infoKey(String address) {
        return memberPrefix(address) + INFO;
    }

    public String ttlKey(String address) {
        return memberPrefix(address) + TTL;
    }

    /** Splits {@code <prefix><address>/info|ttl}; empty for any other key (TiDB writes no others today). */
    public Optional<ParsedKey> parse(String key) {
        String prefix = prefix();
        if (!key.startsWith(prefix)) {
            return Optional.empty();
        }
        String rest = key.substring(prefix.length());
        int slash = rest.lastIndexOf('/');
        if (slash <= 0) {
            return Optional.empty();
        }
        String address = rest.substring(0, slash);
        if (address.contains("/")) {
            return Optional.empty();
        }
        return switch (rest.substring(slash + 1)) {
            case INFO -> Optional.of(new ParsedKey(address, KeyKind.INFO));
            case TTL -> Optional.of(new ParsedKey(address, KeyKind.TTL));
            default -> Optional.empty();
        };
    }
}
