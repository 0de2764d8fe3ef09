package io.tiproxy.balance.observer;

import io.tiproxy.discovery.DiscoveredBackend;

import java.time.Instant;
import java.util.concurrent.ScheduledFuture;

/** The observer's mutable record of one backend. Confined to the observer thread. */
final class BackendEntry {
    final String address;
    DiscoveredBackend backend;
    HealthTracker health;
    /** What subscribers last heard; null only before the first event. */
    BackendInfo info;
    /** Bumped when the backend is removed or rediscovered: check results of an older generation are dropped. */
    long generation;
    Instant removedAt;
    /** The last warning a healthy check carried, so that it is logged once. */
    String lastNote = "";
    /** The next check, while one is scheduled and not yet started. */
    ScheduledFuture<?> nextCheck;
    /** True from the start of a check until its result is counted. */
    boolean checking;

    BackendEntry(DiscoveredBackend backend, HealthTracker health) {
        this.address = backend.address();
        this.backend = backend;
        this.health = health;
    }

    BackendState state() {
        return info == null ? null : info.state();
    }

    boolean removed() {
        return info != null && info.state() == BackendState.REMOVED;
    }
}
