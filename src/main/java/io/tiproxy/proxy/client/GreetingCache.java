package io.tiproxy.proxy.client;

import io.tiproxy.protocol.InitialHandshake;

import java.util.concurrent.ConcurrentHashMap;

/**
 * The greeting each backend sent last. The proxy greets a new client with these capabilities and this
 * version before it connects to any backend.
 */
public final class GreetingCache {
    private final ConcurrentHashMap<String, InitialHandshake> byBackend = new ConcurrentHashMap<>();
    private volatile InitialHandshake latest;

    public void remember(String backend, InitialHandshake greeting) {
        byBackend.put(backend, greeting);
        latest = greeting;
    }

    public InitialHandshake get(String backend) {
        return byBackend.get(backend);
    }

    /** The most recent greeting of any backend, or null before the first connection. */
    public InitialHandshake latest() {
        return latest;
    }
}
