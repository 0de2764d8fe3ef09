package io.tiproxy.proxy.backend;

import java.util.HashMap;
import java.util.Map;

/**
 * Client-visible prepared-statement ids and the ids of the same statements on the current backend.
 * Identity until the first migration re-prepares statements under new backend ids; from then on the
 * proxy rewrites ids in both directions, so a driver's cached statement handles keep working.
 */
public final class StatementIdMap {
    private final Map<Long, Long> toBackend = new HashMap<>();
    private final Map<Long, Long> toClient = new HashMap<>();
    private long nextClientId = 1L << 30;

    public boolean isIdentity() {
        return toBackend.isEmpty();
    }

    /** The backend id of a client id (the same id while no mapping exists). */
    public long backendId(long clientId) {
        Long b = toBackend.get(clientId);
        return b == null ? clientId : b;
    }

    /**
     * The client id for a statement the backend just prepared: the backend's own id when no client
     * statement uses it, a fresh one otherwise.
     */
    public long clientIdForNew(long backendId, java.util.Set<Long> clientIdsInUse) {
        if (isIdentity()) {
            return backendId;
        }
        long clientId = backendId;
        if (clientIdsInUse.contains(clientId) || toBackend.containsKey(clientId)) {
            do {
                clientId = nextClientId++;
            } while (clientIdsInUse.contains(clientId));
        }
        if (clientId != backendId || toClient.containsKey(backendId)) {
            map(clientId, backendId);
        }
        return clientId;
    }

    /** After a migration: the statement known to the client as {@code clientId} is {@code backendId} now. */
    public void map(long clientId, long backendId) {
        Long oldBackend = toBackend.put(clientId, backendId);
        if (oldBackend != null) {
            toClient.remove(oldBackend);
        }
        toClient.put(backendId, clientId);
    }

    public void forget(long clientId) {
        Long b = toBackend.remove(clientId);
        if (b != null) {
            toClient.remove(b);
        }
    }

    public void clear() {
        toBackend.clear();
        toClient.clear();
    }
}
