package io.tiproxy.tidb;

import io.etcd.jetcd.Client;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A <em>simulation</em> of one TiDB server (TiDB cannot run on these machines), built from TIDB-FACTS.md.
 * It speaks the MySQL protocol on a loopback port with TiDB's greeting (version {@value #VERSION},
 * TiDB's capabilities, no CLIENT_SESSION_TRACK) and fronts a real MariaDB for ordinary SQL; the TiDB
 * parts are its own: {@code SHOW SESSION_STATES} / {@code SET SESSION_STATES}, error 8146, session tokens
 * and the {@code tidb_session_token} login, the status port ({@code /status}, {@code /config}) with
 * graceful shutdown, and, once {@link #registerIn registered}, its keys in PD's etcd
 * ({@link SimulatedTiDbTopology}). Which instance served a query shows in {@code @@server_id} of the
 * fronted MariaDB. To restart a TiDB, close it and start a new one on the same ports.
 *
 * <p>Simplifications (not TiDB behaviour under test): user-variable values/types and parameter types are
 * encoded in the simulation's own JSON shapes (the proxy treats the states as opaque); sys-vars are those
 * the session SET; the 8146 reasons simulated are active transaction, local temporary tables, bound
 * params (SEND_LONG_DATA without EXECUTE), and the missing certificate.
 */
public final class SimulatedTiDb implements AutoCloseable {
    public static final String RELEASE = "v8.5.0";
    public static final String VERSION = "8.0.11-TiDB-" + RELEASE;
    /** TiDB gives transactions this long to finish once its listener closed (TIDB-FACTS "Status port"). */
    static final Duration TRANSACTION_GRACE = Duration.ofSeconds(15);
    static final long CLIENT_LONG_PASSWORD = 1, CLIENT_FOUND_ROWS = 1 << 1, CLIENT_LONG_FLAG = 1 << 2,
            CLIENT_CONNECT_WITH_DB = 1 << 3, CLIENT_COMPRESS = 1 << 5, CLIENT_LOCAL_FILES = 1 << 7,
            CLIENT_PROTOCOL_41 = 1 << 9, CLIENT_INTERACTIVE = 1 << 10, CLIENT_SSL = 1 << 11,
            CLIENT_TRANSACTIONS = 1 << 13, CLIENT_SECURE_CONNECTION = 1 << 15, CLIENT_MULTI_STATEMENTS = 1 << 16,
            CLIENT_MULTI_RESULTS = 1 << 17, CLIENT_PLUGIN_AUTH = 1 << 19, CLIENT_CONNECT_ATTRS = 1 << 20,
            CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1 << 21, CLIENT_SESSION_TRACK = 1 << 23,
            CLIENT_DEPRECATE_EOF = 1 << 24, CLIENT_ZSTD = 1 << 26;
    /** TIDB-FACTS "Wire details": what TiDB advertises (no SSL without TLS, no SESSION_TRACK). */
    static final long CAPABILITIES = CLIENT_LONG_PASSWORD | CLIENT_LONG_FLAG | CLIENT_CONNECT_WITH_DB
            | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION | CLIENT_FOUND_ROWS
            | CLIENT_MULTI_STATEMENTS | CLIENT_MULTI_RESULTS | CLIENT_LOCAL_FILES | CLIENT_CONNECT_ATTRS
            | CLIENT_PLUGIN_AUTH | CLIENT_INTERACTIVE | CLIENT_DEPRECATE_EOF | CLIENT_COMPRESS | CLIENT_ZSTD;

    /** What an old/new TiDB does without a signing certificate (TIDB-FACTS "Migration exchange" 1). */
    public enum WithoutCertificate { ERROR_8146, NULL_TOKEN }

    private final String name;
    private final MariaDbServer backend;
    private final Map<String, String> accounts;
    private final SimulatedTiDbTokens tokens = new SimulatedTiDbTokens();
    private final ServerSocket listener;
    private final SimulatedTiDbStatusServer status;
    private final Set<SimulatedTiDbSession> sessions = ConcurrentHashMap.newKeySet();
    private final AtomicInteger connectionIds = new AtomicInteger(1);
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "sim-tidb-timer");
        t.setDaemon(true);
        return t;
    });
    private volatile WithoutCertificate withoutCertificate = WithoutCertificate.NULL_TOKEN;
    private volatile boolean shuttingDown;
    private volatile String tokenUserOverride;
    private final AtomicInteger acceptedTokenLogins = new AtomicInteger();
    private final AtomicInteger rejectedTokenLogins = new AtomicInteger();
    private final AtomicInteger sessionStatesShown = new AtomicInteger();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile SimulatedTiDbTopology topology;
    private volatile boolean closed;

    /** Starts a simulated TiDB in front of {@code backend}, which has the {@link TestAccounts}. */
    public SimulatedTiDb(String name, MariaDbServer backend) throws IOException {
        this(name, backend, 0, 0);
    }

    /** Starts one on given loopback ports (0: any free one); a restart uses the ports of the one before. */
    public SimulatedTiDb(String name, MariaDbServer backend, int sqlPort, int statusPort) throws IOException {
        this.name = name;
        this.backend = backend;
        this.accounts = Map.of(TestAccounts.APP_USER, TestAccounts.APP_PASSWORD,
                TestAccounts.ADMIN_USER, TestAccounts.ADMIN_PASSWORD);
        listener = new ServerSocket();
        listener.setReuseAddress(true);
        try {
            listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), sqlPort), 128);
            status = new SimulatedTiDbStatusServer(this, statusPort);
        } catch (IOException e) {
            listener.close();
            throw e;
        }
        Thread accept = new Thread(this::acceptLoop, "sim-tidb-" + name + "-accept");
        accept.setDaemon(true);
        accept.start();
    }

    public String name() {
        return name;
    }

    /** The SQL address, {@code 127.0.0.1:port}. */
    public String address() {
        return "127.0.0.1:" + listener.getLocalPort();
    }

    public int port() {
        return listener.getLocalPort();
    }

    public int statusPort() {
        return status.port();
    }

    MariaDbServer backend() {
        return backend;
    }

    SimulatedTiDbTokens tokens() {
        return tokens;
    }

    /** The account a login names, ignoring case as TiDB's token check does; null if unknown. */
    String accountOf(String user) {
        return accounts.keySet().stream().filter(a -> a.equalsIgnoreCase(user)).findFirst().orElse(null);
    }

    String passwordOf(String account) {
        return account == null ? null : accounts.get(account);
    }

    /** Loads {@code security.session-token-signing-cert}/{@code -key}. */
    public void loadSigningCert(SimulatedTiDbSigningCert cert) {
        tokens.loadCert(cert);
    }

    public void setWithoutCertificate(WithoutCertificate behaviour) {
        this.withoutCertificate = behaviour;
    }

    WithoutCertificate withoutCertificate() {
        return withoutCertificate;
    }

    /** Fault injection: tokens name {@code user} instead of the session's user (null: the session's user). */
    public void issueTokensFor(String user) {
        this.tokenUserOverride = user;
    }

    String tokenUser(String sessionUser) {
        String override = tokenUserOverride;
        return override != null ? override : sessionUser;
    }

    /**
     * Writes this TiDB's topology keys into PD's etcd and keeps them alive until a graceful shutdown or
     * {@link #close()} deletes them (TIDB-FACTS "Topology in PD's etcd").
     */
    public void registerIn(Client etcd) throws Exception {
        topology = new SimulatedTiDbTopology(etcd, "127.0.0.1", port(), statusPort(), RELEASE, "/sim/" + name);
    }

    /** {@code SHOW SESSION_STATES} statements answered so far (with states or with an error). */
    public int sessionStatesShown() {
        return sessionStatesShown.get();
    }

    void countSessionStatesShown() {
        sessionStatesShown.incrementAndGet();
    }

    /** {@code GET /config} requests served so far. */
    public int configRequests() {
        return status.configRequests();
    }

    /** tidb_session_token logins accepted so far. */
    public int acceptedTokenLogins() {
        return acceptedTokenLogins.get();
    }

    /** tidb_session_token logins refused with error 1045 so far. */
    public int rejectedTokenLogins() {
        return rejectedTokenLogins.get();
    }

    void countTokenLogin(boolean accepted) {
        (accepted ? acceptedTokenLogins : rejectedTokenLogins).incrementAndGet();
    }

    int nextConnectionId() {
        return connectionIds.getAndIncrement();
    }

    int connections() {
        return sessions.size();
    }

    /**
     * TiDB got SIGTERM with {@code graceful-wait-before-shutdown = wait}: {@code /status} answers 500 at
     * once while the SQL port still accepts; after {@code wait} the listener and status server close, idle
     * sessions are closed after their current command, transactions get up to 15 s; then its topology
     * keys are deleted and it is {@link #awaitStopped stopped} (TIDB-FACTS "Status port", "Topology").
     */
    public void beginGracefulShutdown(Duration wait) {
        shuttingDown = true;
        timer.schedule(() -> {
            closeListeners();
            sessions.forEach(SimulatedTiDbSession::closeWhenIdle);
            awaitDrained(System.nanoTime() + TRANSACTION_GRACE.toNanos());
        }, wait.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Polls until no session is left (or the grace is over: the rest are cut), then leaves the topology. */
    private void awaitDrained(long deadlineNanos) {
        if (!sessions.isEmpty() && System.nanoTime() < deadlineNanos) {
            timer.schedule(() -> awaitDrained(deadlineNanos), 50, TimeUnit.MILLISECONDS);
            return;
        }
        sessions.forEach(SimulatedTiDbSession::closeNow);
        leaveTopology();
        stopped.countDown();
    }

    /** Waits until a graceful shutdown is complete (listeners closed, sessions gone, keys deleted). */
    public boolean awaitStopped(Duration timeout) throws InterruptedException {
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void leaveTopology() {
        SimulatedTiDbTopology t = topology;
        topology = null;
        if (t != null) {
            t.close();
        }
    }

    boolean isShuttingDown() {
        return shuttingDown;
    }

    private void acceptLoop() {
        while (!closed) {
            try {
                Socket s = listener.accept();
                s.setTcpNoDelay(true);
                SimulatedTiDbSession session = new SimulatedTiDbSession(this, s);
                sessions.add(session);
                Thread t = new Thread(() -> {
                    try {
                        session.run();
                    } finally {
                        sessions.remove(session);
                    }
                }, "sim-tidb-" + name + "-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                if (!closed && !listener.isClosed()) {
                    continue;
                }
                return;
            }
        }
    }

    private void closeListeners() {
        try {
            listener.close();
        } catch (IOException ignored) {
            // closing
        }
        status.stop();
    }

    @Override
    public void close() {
        closed = true;
        closeListeners();
        sessions.forEach(SimulatedTiDbSession::closeNow);
        timer.shutdownNow();
        try {
            leaveTopology();
        } finally {
            stopped.countDown();
        }
    }

    @Override
    public String toString() {
        return "SimulatedTiDb[" + name + " " + address() + " -> " + backend.address() + "]";
    }
}
