package io.tiproxy.proxy.client;

import io.tiproxy.balance.BackendSelector;
import io.tiproxy.proxy.ConnectionRegistry;
import io.tiproxy.proxy.ProxySettings;
import io.tiproxy.proxy.SessionEvents;
import io.tiproxy.proxy.backend.AccountHashes;
import io.tiproxy.proxy.net.Transport;

import java.util.function.Supplier;

/** What every session shares with the rest of the proxy. */
public record SessionContext(ConnectionRegistry<ClientConnection> registry, BackendSelector selector,
                             Transport transport, GreetingCache greetings, AccountHashes accounts,
                             SessionEvents events, Supplier<ProxySettings> settingsSource) {

    /** The settings in force now (a new snapshot after a config reload). */
    public ProxySettings settings() {
        return settingsSource.get();
    }
}
