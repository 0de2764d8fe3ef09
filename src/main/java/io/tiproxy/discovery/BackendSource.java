package io.tiproxy.discovery;

import java.util.Map;
import java.util.Optional;

/**
 * Where the backend list comes from (the static config list, PD's etcd topology...). A source
 * delivers the <em>whole</em> current set of backends to its listener each time it changes, keyed
 * by address; the listener works out what was added or removed.
 *
 * <p>Lifecycle: construct, {@link #start(Listener)} once, {@link #close()} once. The listener is
 * called from the source's own thread, one call at a time, and must not block.
 */
public interface BackendSource extends AutoCloseable {

    /** Receives the full set of discovered backends, every time it changes. */
    @FunctionalInterface
    interface Listener {
        void onBackends(Map<String, DiscoveredBackend> backends);
    }

    /** Starts delivering: the current set (maybe empty) soon after, then every change. */
    void start(Listener listener);

    /** The set last delivered (empty before the first delivery). */
    Map<String, DiscoveredBackend> current();

    /**
     * False while the source cannot reach where it reads from (etcd down); the last known set is
     * kept meanwhile. Always true for sources that read nothing remote.
     */
    default boolean connected() {
        return true;
    }

    /** The last error reaching the source's store, while {@link #connected()} is false. */
    default Optional<String> lastError() {
        return Optional.empty();
    }

    /** Stops delivering; does not throw. */
    @Override
    void close();
}
