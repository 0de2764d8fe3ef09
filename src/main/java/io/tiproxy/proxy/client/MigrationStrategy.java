package io.tiproxy.proxy.client;

import io.netty.util.concurrent.Future;
import io.tiproxy.proxy.backend.Credential;
import io.tiproxy.proxy.backend.ProxyCommandChannel;
import io.tiproxy.proxy.backend.QueryResult;

import java.util.List;
import java.util.Map;

/**
 * How a session's state gets from one backend to another. The {@link SessionMigrator} engine owns the
 * when (safe points, phases, retries, swap); a strategy owns the what: reading the state, the login on
 * the new backend, and the statements that rebuild the state there.
 */
interface MigrationStrategy {

    /** Everything the engine needs to log in on the new backend and rebuild the session there. */
    record Plan(Credential credential, String database, Restorer restorer, boolean reprepareStatements) {}

    /** Sends, on the new backend, the commands that rebuild the state; their results say if it worked. */
    @FunctionalInterface
    interface Restorer {
        List<Future<QueryResult>> restore(ProxyCommandChannel channel);
    }

    /** The backend cannot migrate this session right now (e.g. TiDB error 8146); retry at a later safe point. */
    final class NotNowException extends Exception {
        NotNowException(String message) {
            super(message, null, false, false);
        }
    }

    /** Planned move: reads the state from the live backend (commands pipelined on the session's connection). */
    Future<Plan> capture(ClientConnection conn);

    /** After the backend died: a plan from what the proxy holds, or a failed future if it cannot. */
    Future<Plan> recover(ClientConnection conn);

    /** Why this session's login cannot be replayed, or null if it can (or is not known yet). */
    String credentialProblem();

    /**
     * Backends this session must not move to now, with why (a TiDB without a session-token signing
     * certificate would refuse the token); by address. None by default.
     */
    default Map<String, String> unsuitableTargets() {
        return Map.of();
    }

    /** The session authenticated again (COM_CHANGE_USER): any derived credential is void. */
    void forgetCredential();
}
