package io.tiproxy.proxy.client;

import io.tiproxy.balance.BackendSelector;
import io.tiproxy.proxy.ConnectionRegistry;
import io.tiproxy.proxy.ProxySettings;
import io.tiproxy.proxy.SessionEvents;
import io.tiproxy.proxy.backend.AccountHashes;
import io.tiproxy.proxy.backend.TrackingDefaults;
import io.tiproxy.proxy.net.Transport;

import java.util.function.Supplier;

/**
 * What every session shares with the rest of the proxy.
 *
 * @param tidbReadiness which TiDB backends can take part in session migration (signing certificate)
 * @param memoryGuard   refuses new connections while the heap is too full ({@code proxy.max-heap-usage-percent})
 * @param tracking      backends whose new sessions already track everything (no tracking SET at login)
 */
public record SessionContext(ConnectionRegistry<ClientConnection> registry, BackendSelector selector,
                             Transport transport, GreetingCache greetings, AccountHashes accounts,
                             SessionEvents events, Supplier<ProxySettings> settingsSource,
                             TiDbReadiness tidbReadiness, io.tiproxy.proxy.MemoryGuard memoryGuard,
                             TrackingDefaults tracking) {

    /** The settings in force now (a new snapshot after a config reload). */
    public ProxySettings settings() {
        return settingsSource.get();
    }
}
