package io.tiproxy.discovery;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/** Builds jetcd clients for PD's etcd with bounded connect and keep-alive times. */
public final class EtcdClients {
    private EtcdClients() {
    }

    /**
     * A client for {@code endpoints} ({@code host:port}, or full {@code http://host:port} URLs). The
     * caller owns it and closes it after every component that uses it.
     */
    public static Client connect(List<String> endpoints) {
        if (endpoints.isEmpty()) {
            throw new IllegalArgumentException("no etcd endpoints");
        }
        String[] urls = endpoints.stream()
                .map(String::strip)
                .map(e -> e.contains("://") ? e : "http://" + e)
                .toArray(String[]::new);
        return Client.builder()
                .endpoints(urls)
                .connectTimeout(Duration.ofSeconds(3))
                .keepaliveTime(Duration.ofSeconds(10))
                .keepaliveTimeout(Duration.ofSeconds(3))
                .retryMaxDuration(Duration.ofSeconds(5))
                .build();
    }

    static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    static String text(ByteSequence b) {
        return b.toString(StandardCharsets.UTF_8);
    }
}
