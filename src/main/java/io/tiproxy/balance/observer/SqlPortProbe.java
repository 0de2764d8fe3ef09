package io.tiproxy.balance.observer;

import io.tiproxy.balance.observer.MySqlProbeConnection.ServerError;
import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.protocol.InitialHandshake;
import io.tiproxy.protocol.MySqlError;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;

/**
 * Checks a backend's SQL port with a complete MySQL login, never a half-open handshake: MariaDB (and
 * MySQL) count a connection that ends before the login is answered against {@code max_connect_errors}
 * and, once the count is reached, block the proxy's host for every session. (Checked on MariaDB
 * 10.11: a probe that reads the greeting and closes gets the host blocked after
 * {@code max_connect_errors} probes; an answered login, accepted or denied, does not count.)
 *
 * <ul>
 *   <li>With a service account: log in, then, if {@code wsrep_on=ON}, require {@code wsrep_ready=ON}
 *       and {@code wsrep_local_state_comment='Synced'} (a Galera node accepts logins before it can
 *       serve: statements fail with 1047 until it is Synced). COM_QUIT.</li>
 *   <li>Without: log in as a user that does not exist with empty auth data; "access denied" (1045)
 *       proves the server is up and answering. Costs one "Access denied" warning per probe in the
 *       server's error log when {@code log_warnings >= 2}; configure a service account to avoid it.</li>
 * </ul>
 * An ERR greeting, "too many connections" (1040), "host blocked", "shutdown in progress" or "WSREP
 * not ready" (1047) mean unhealthy. Other ERR answers to the service account's login (access denied,
 * TLS required...) depend on what the probe knows of the backend:
 * <ul>
 *   <li>a backend this probe has seen with {@code wsrep_on=ON}: unhealthy. Without a login the probe
 *       cannot tell whether the node is Synced, and a node whose grant tables differ from the cluster's
 *       (still joining, or brought back from an old copy) is not one to send the cluster's sessions to.
 *       (The price: a service account broken on every node makes every Galera node unhealthy; the
 *       reason says why.)</li>
 *   <li>any other backend: the server is up and answering, so healthy, with the problem named in the
 *       result's reason (logged once).</li>
 * </ul>
 *
 * <p>The conversation blocks a thread of {@code executor} for at most the timeout. The service account
 * can be replaced while checks run ({@link #reconfigure}); the next check uses it.
 */
public final class SqlPortProbe implements HealthChecker {
    /** The account the probe names when no service account is configured. */
    static final String NONEXISTENT_USER = "tiproxy_probe_no_such_user";
    private static final int ER_HOST_IS_BLOCKED = 1129;
    private static final int ER_HOST_NOT_PRIVILEGED = 1130;
    private static final Set<Integer> SERVER_NOT_SERVING = Set.of(MySqlError.ER_CON_COUNT_ERROR, ER_HOST_IS_BLOCKED,
            ER_HOST_NOT_PRIVILEGED, MySqlError.ER_SERVER_SHUTDOWN, MySqlError.ER_UNKNOWN_COM_ERROR);

    private volatile Account account;
    private final InetAddress sourceAddress;
    private final Executor executor;
    /** Addresses last seen with {@code wsrep_on=ON}: their service-account login must work. */
    private final Set<String> galeraBackends = ConcurrentHashMap.newKeySet();

    /** The service account (empty user: probe with a nonexistent user). */
    private record Account(String user, String password) {
        Account {
            Objects.requireNonNull(user, "serviceUser");
            Objects.requireNonNull(password, "servicePassword");
        }

        @Override
        public String toString() {
            return "Account[" + user + "]"; // never the password
        }
    }

    /**
     * @param serviceUser     account to log in with; empty to probe with a nonexistent user
     * @param servicePassword its password
     * @param sourceAddress   local address to connect from, or null for the system's choice
     * @param executor        runs the blocking conversations (a small bounded pool)
     */
    public SqlPortProbe(String serviceUser, String servicePassword, InetAddress sourceAddress, Executor executor) {
        this.account = new Account(serviceUser, servicePassword);
        this.sourceAddress = sourceAddress;
        this.executor = Objects.requireNonNull(executor, "executor");
    }

    /** With the service account of {@code settings} (if any), connecting from the default address. */
    public SqlPortProbe(ObserverSettings settings, Executor executor) {
        this(settings.serviceUser(), settings.servicePassword(), null, executor);
    }

    /** Checks from now on log in with the service account of {@code settings} (if any). */
    @Override
    public void reconfigure(ObserverSettings settings) {
        account = new Account(settings.serviceUser(), settings.servicePassword());
    }

    @Override
    public CompletableFuture<HealthResult> check(DiscoveredBackend backend, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            return CompletableFuture.supplyAsync(() -> probe(backend, deadline), executor);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.completedFuture(HealthResult.failed("health check pool is shut down"));
        }
    }

    private HealthResult probe(DiscoveredBackend backend, long deadline) {
        InetSocketAddress target = new InetSocketAddress(backend.host(), backend.port());
        if (target.isUnresolved()) {
            return HealthResult.failed("cannot resolve " + backend.host());
        }
        try (MySqlProbeConnection conn = MySqlProbeConnection.open(target, sourceAddress, deadline)) {
            InitialHandshake greeting;
            try {
                greeting = conn.readGreeting();
            } catch (ServerError e) {
                return HealthResult.failed("SQL port refuses connections: " + e.getMessage());
            }
            Account login = account;
            boolean withServiceAccount = !login.user().isEmpty();
            try {
                conn.login(greeting, withServiceAccount ? login.user() : NONEXISTENT_USER,
                        withServiceAccount ? login.password() : "");
            } catch (ServerError e) {
                return loginRefused(backend, withServiceAccount, e);
            }
            HealthResult result = withServiceAccount ? checkGalera(backend, conn) : HealthResult.ok();
            conn.quit();
            return result;
        } catch (IOException e) {
            return HealthResult.failed("SQL port: " + describe(e));
        } catch (ServerError e) {
            return HealthResult.failed("SQL query failed: " + e.getMessage());
        } catch (RuntimeException e) {
            return HealthResult.failed("SQL port: unexpected answer: " + e);
        }
    }

    /** What an ERR answer to the login means; see the class comment. */
    private HealthResult loginRefused(DiscoveredBackend backend, boolean withServiceAccount, ServerError e) {
        if (SERVER_NOT_SERVING.contains(e.code)) {
            return HealthResult.failed("SQL login refused: " + e.getMessage());
        }
        if (!withServiceAccount) {
            return HealthResult.ok(); // the expected denial of the nonexistent user: up and answering
        }
        if (galeraBackends.contains(backend.address())) {
            return HealthResult.failed("Galera node, but the service account cannot log in (" + e.getMessage()
                    + "), so its wsrep state is unknown");
        }
        return new HealthResult(true, "service account cannot log in: " + e.getMessage());
    }

    /** Healthy unless this is a Galera node that is not ready and Synced. */
    private HealthResult checkGalera(DiscoveredBackend backend, MySqlProbeConnection conn)
            throws IOException, ServerError {
        List<String[]> on = conn.query("SHOW GLOBAL VARIABLES LIKE 'wsrep_on'");
        if (on.isEmpty() || !"ON".equalsIgnoreCase(on.get(0)[1])) {
            galeraBackends.remove(backend.address());
            return HealthResult.ok();
        }
        galeraBackends.add(backend.address());
        String ready = "";
        String state = "";
        for (String[] row : conn.query(
                "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_ready', 'wsrep_local_state_comment')")) {
            if ("wsrep_ready".equalsIgnoreCase(row[0])) {
                ready = String.valueOf(row[1]);
            } else if ("wsrep_local_state_comment".equalsIgnoreCase(row[0])) {
                state = String.valueOf(row[1]);
            }
        }
        if ("ON".equalsIgnoreCase(ready) && "Synced".equals(state)) {
            return HealthResult.ok();
        }
        return HealthResult.failed("Galera node not ready: wsrep_ready=" + ready + ", wsrep_local_state_comment=" + state);
    }

    private static String describe(IOException e) {
        String message = e.getMessage();
        return e.getClass().getSimpleName() + (message == null ? "" : ": " + message);
    }
}
