package io.tiproxy.server;

import io.netty.channel.EventLoopGroup;
import io.tiproxy.balance.BackendRouter;
import io.tiproxy.balance.observer.BackendHealthChecker;
import io.tiproxy.balance.observer.BackendObserver;
import io.tiproxy.balance.observer.ObserverSettings;
import io.tiproxy.discovery.BackendSource;
import io.tiproxy.discovery.EtcdConnection;
import io.tiproxy.discovery.EtcdTopologySettings;
import io.tiproxy.discovery.EtcdTopologySource;
import io.tiproxy.discovery.RegistrationSettings;
import io.tiproxy.discovery.StaticBackendSource;
import io.tiproxy.discovery.TopologyInfo;
import io.tiproxy.discovery.TopologyPaths;
import io.tiproxy.discovery.TopologyRegistrar;
import io.tiproxy.manager.config.ConfigReloader;
import io.tiproxy.manager.config.ConfigWatcher;
import io.tiproxy.manager.config.HealthCheckConfig;
import io.tiproxy.manager.config.HostPort;
import io.tiproxy.manager.config.ProxyProtocol;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.manager.logging.LoggingConfigurator;
import io.tiproxy.manager.metrics.ProxyMetrics;
import io.tiproxy.manager.tls.CertManager;
import io.tiproxy.protocol.MySqlError;
import io.tiproxy.proxy.ConnectionRegistry;
import io.tiproxy.proxy.ErrorSource;
import io.tiproxy.proxy.MemoryGuard;
import io.tiproxy.proxy.MigrationStats;
import io.tiproxy.proxy.ProxySettings;
import io.tiproxy.proxy.SessionEvents;
import io.tiproxy.proxy.SqlListener;
import io.tiproxy.proxy.backend.AccountHashes;
import io.tiproxy.proxy.backend.BackendLoadSampler;
import io.tiproxy.proxy.backend.TrackingDefaults;
import io.tiproxy.proxy.client.BackendAddress;
import io.tiproxy.proxy.client.ClientConnection;
import io.tiproxy.proxy.client.GreetingCache;
import io.tiproxy.proxy.client.IdleSweeper;
import io.tiproxy.proxy.client.SessionContext;
import io.tiproxy.proxy.client.TiDbReadiness;
import io.tiproxy.proxy.net.Transport;
import io.tiproxy.server.api.ApiAuth;
import io.tiproxy.server.api.ApiRoute;
import io.tiproxy.server.api.HealthRoute;
import io.tiproxy.server.api.HttpApiServer;
import io.tiproxy.server.api.MetricsRoute;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Collectors;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The composition root: builds every component from one configuration snapshot, starts them in
 * order and stops them in reverse. Nothing else wires components together.
 */
public final class TiProxyServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TiProxyServer.class);

    private final Path configFile;
    private final ProxyMetrics metrics;
    private final ConfigReloader reloader;
    private final AtomicReference<ProxySettings> settings = new AtomicReference<>();
    private final StaticBackendSource staticSource;
    private ConfigWatcher watcher;
    private final Transport transport = Transport.best();
    private final EventLoopGroup bossGroup;
    private final EventLoopGroup workerGroup;
    private final ConnectionRegistry<ClientConnection> registry = new ConnectionRegistry<>();
    private final BackendRouter router;
    private final BackendObserver observer;
    private final BackendObserver.Subscription observerSubscription;
    private final EtcdConnection etcd;
    private TopologyRegistrar registrar;
    private final SqlListener sqlListener;
    private final HttpApiServer apiServer;
    private final MigrationStats migrations;
    /** TLS contexts of security.*, re-read when their files change on disk. */
    private final CertManager certs;
    /** Which TiDBs have a session-token signing certificate (GET /config once a minute). */
    private final TiDbReadiness tidbReadiness;
    private final MemoryGuard memoryGuard = MemoryGuard.start();
    private final IdleSweeper idleSweeper;
    /** Reads backend load (Threads_running) for the balance policy's load factor. */
    private final BackendLoadSampler loadSampler;
    private volatile boolean shuttingDown;

    public TiProxyServer(TiProxyConfig config) throws SSLException {
        this(config, null);
    }

    /** @param configFile the file {@code config} came from, watched for changes; null for none */
    public TiProxyServer(TiProxyConfig config, Path configFile) throws SSLException {
        this.configFile = configFile;
        this.reloader = new ConfigReloader(config, this::applyConfig);
        this.certs = new CertManager(config.security(), CertManager.DEFAULT_CHECK_INTERVAL);
        this.settings.set(settingsOf(config, certs));
        // certificate files renewed on disk: the next connections get the new contexts
        certs.onReload(() -> {
            synchronized (this.settings) {
                this.settings.updateAndGet(s -> s.withTls(certs.serverTls().current(), certs.sqlTls().current()));
            }
        });
        this.router = new BackendRouter(registry::all, Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "tiproxy-router");
            t.setDaemon(true);
            return t;
        }), () -> reloader.current().proxy().gracefulCloseConnTimeout(), BalanceWiring.settingsOf(config.balance()));
        ObserverSettings observerSettings = observerSettingsOf(config);
        BackendSource source;
        if (config.proxy().discoversFromPd()) {
            this.etcd = EtcdConnection.connect(config.proxy().pdAddrs().stream().map(HostPort::toString).toList());
            source = new EtcdTopologySource(etcd, EtcdTopologySettings.defaults());
        } else {
            this.etcd = null;
            source = new StaticBackendSource(config.proxy().backends().stream().map(HostPort::toString).toList());
        }
        this.staticSource = source instanceof StaticBackendSource s ? s : null;
        this.metrics = new ProxyMetrics(this::sessionsPerBackend, this::backendHealth, router::factorScores,
                () -> BalanceWiring.pendingOf(router));
        this.observer = new BackendObserver(source,
                new MeasuredHealthChecker(new BackendHealthChecker(observerSettings), metrics), observerSettings);
        observer.setFailBackendList(config.proxy().failBackendList().stream().map(HostPort::toString).toList());
        this.observerSubscription = observer.subscribe(event -> router.update(observer.snapshot()));
        this.migrations = new MigrationStats(metrics);
        this.bossGroup = transport.newGroup(1, "tiproxy-accept");
        this.workerGroup = transport.newGroup(workerThreads(), "tiproxy-io");
        TrackingDefaults trackingDefaults = new TrackingDefaults();
        this.loadSampler = new BackendLoadSampler(transport, workerGroup.next(), () -> reloader.current().backend(),
                router::healthyBackends, BackendAddress::parse, () -> this.settings.get().backendTls(),
                () -> BalanceWiring.loadSampleInterval(reloader.current()), router::reportLoad, trackingDefaults);
        AccountHashes accounts = new AccountHashes(transport, () -> reloader.current().backend(),
                router::healthyBackends, BackendAddress::parse, () -> this.settings.get().backendTls());
        this.tidbReadiness = new TiDbReadiness(() -> TiDbReadiness.statusAddresses(router.backends().values()),
                java.time.Clock.systemUTC(), Duration.ofSeconds(5));
        SessionContext context = new SessionContext(registry, router, transport, new GreetingCache(), accounts,
                migrations, this.settings::get, tidbReadiness, memoryGuard, trackingDefaults);
        HostPort addr = config.proxy().addr();
        this.sqlListener = new SqlListener(new InetSocketAddress(addr.host(), addr.port()), context, bossGroup, workerGroup);
        this.idleSweeper = new IdleSweeper(registry::all, () -> this.settings.get().idleTimeout());
        List<ApiRoute> routes = new ArrayList<>();
        routes.add(new HealthRoute(this::health));
        routes.add(new MetricsRoute(metrics::scrape));
        // health and /metrics stay open (load balancers, Prometheus); admin endpoints need credentials when set
        ApiAuth auth = new ApiAuth(() -> {
            var api = reloader.current().api();
            return new ApiAuth.Credentials(api.user(), api.password(), api.token());
        });
        routes.addAll(auth.protect(ConfigRoutes.create(reloader)));
        routes.addAll(auth.protect(ProxyRoutes.create(router, registry, trackingDefaults, new ProxyRoutes.Drainer() {
            @Override
            public boolean drain(String addr, String reason) {
                return observer.drain(addr, reason);
            }

            @Override
            public boolean undrain(String addr) {
                return observer.undrain(addr);
            }
        })));
        if (!config.api().protectsAdmin() && !isLoopback(config.api().addr().host())) {
            log.warn("the HTTP API on {} is reachable beyond loopback without credentials: set api.user/api.password "
                    + "or api.token to protect its admin endpoints", config.api().addr());
        }
        this.apiServer = new HttpApiServer(config.api().addr(), routes, certs.serverHttpTls()::current);
    }

    private static boolean isLoopback(String host) {
        return host.equals("127.0.0.1") || host.equals("::1") || host.equals("localhost") || host.startsWith("127.");
    }

    private static int workerThreads() {
        String prop = System.getProperty("tiproxy.io-threads");
        return prop != null ? Integer.parseInt(prop) : Runtime.getRuntime().availableProcessors();
    }

    /** The sessions' settings from {@code config}, with the TLS contexts {@code certs} holds now. */
    static ProxySettings settingsOf(TiProxyConfig config, CertManager certs) {
        var p = config.proxy();
        var s = config.security();
        return new ProxySettings(p.handshakeTimeout(), Duration.ofSeconds(5), p.serverVersion(),
                s.serverTls().require(), p.requireBackendTls(),
                certs.serverTls().current(), certs.sqlTls().current(), p.maxConnections(),
                p.idleTimeout(), p.maxHeapUsagePercent(), p.proxyProtocol() == ProxyProtocol.V2,
                p.proxyProtocolNetworks(), config.backend().proxyProtocol() == ProxyProtocol.V2);
    }

    private Map<String, Integer> sessionsPerBackend() {
        return router.backends().keySet().stream().collect(Collectors.toMap(b -> b, router::sessionCount));
    }

    private Map<String, Boolean> backendHealth() {
        return router.backends().values().stream()
                .collect(Collectors.toMap(b -> b.address(), b -> b.state().acceptsNewSessions()));
    }

    /** Applies a reloaded config: everything that can fail first, then the swaps. */
    private void applyConfig(TiProxyConfig previous, TiProxyConfig next) throws SSLException {
        CertManager.Staged nextCerts = certs.stage(next.security());
        synchronized (settings) {
            nextCerts.commit();
            settings.set(settingsOf(next, certs));
        }
        if (!previous.log().equals(next.log())) {
            LoggingConfigurator.forSlf4j().apply(next.log());
        }
        if (staticSource != null && !previous.proxy().backends().equals(next.proxy().backends())) {
            staticSource.update(next.proxy().backends().stream().map(HostPort::toString).toList());
        }
        if (!previous.proxy().failBackendList().equals(next.proxy().failBackendList())) {
            observer.setFailBackendList(next.proxy().failBackendList().stream().map(HostPort::toString).toList());
        }
        ObserverSettings nextChecks = observerSettingsOf(next);
        if (!nextChecks.equals(observerSettingsOf(previous))) {
            observer.updateSettings(nextChecks); // health-check.* and the probe's service account, from each next check
        }
        if (!previous.balance().equals(next.balance())) {
            router.setSettings(BalanceWiring.settingsOf(next.balance())); // from the next rebalancing round
        }
    }

    /** The observer's check settings: the health-check section and the backend service account. */
    static ObserverSettings observerSettingsOf(TiProxyConfig config) {
        HealthCheckConfig health = config.healthCheck();
        return new ObserverSettings(health.interval(), health.timeout(), health.failThreshold(),
                health.recoverThreshold(), config.backend().serviceUser(), config.backend().servicePassword());
    }

    /** The config in force now. */
    public TiProxyConfig config() {
        return reloader.current();
    }

    public ProxyMetrics metrics() {
        return metrics;
    }

    private HealthRoute.HealthStatus health() {
        TiProxyConfig config = reloader.current();
        if (shuttingDown) {
            return new HealthRoute.HealthStatus(false, "shutting down", config.checksum(), discoveryState());
        }
        if (router.healthyBackends().isEmpty()) {
            return new HealthRoute.HealthStatus(false, "no healthy backend", config.checksum(), discoveryState());
        }
        return new HealthRoute.HealthStatus(true, "", config.checksum(), discoveryState());
    }

    /** "connected" or "unreachable: why" with etcd discovery; null with static backends. */
    private String discoveryState() {
        if (staticSource != null) {
            return null;
        }
        return observer.discoveryConnected() ? "connected"
                : "unreachable: " + observer.discoveryError().orElse("no answer") + " (routing with the last known topology)";
    }

    public void start() throws InterruptedException {
        observer.start();
        tidbReadiness.start();
        awaitFirstHealthyBackend();
        sqlListener.start();
        certs.start();
        idleSweeper.start();
        loadSampler.start();
        apiServer.start();
        if (configFile != null) {
            try {
                watcher = ConfigWatcher.start(configFile, reloader.current(),
                        next -> reloader.offer(next, configFile.toString()), ConfigWatcher.DEFAULT_POLL_INTERVAL);
            } catch (IOException e) {
                log.warn("cannot watch {} for changes ({}); use PUT /api/admin/config to reload", configFile, e.toString());
            }
        }
        if (etcd != null) {
            registerInTopology();
        }
        log.info("TiProxy started: SQL on {}, API on {}", sqlListener.localAddress(), apiServer.localAddress());
    }

    /** The first health checks take a moment: open the listener once a backend is known good (or after 5 s). */
    private void awaitFirstHealthyBackend() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (observer.healthyBackends().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        router.update(observer.snapshot());
        if (router.healthyBackends().isEmpty()) {
            log.warn("no healthy backend yet; sessions are refused until one is");
        }
    }

    /** As TiProxy does: /topology/tiproxy/<ip>:<port>/info|ttl with a 45 s lease. */
    private void registerInTopology() {
        InetSocketAddress sql = sqlListener.localAddress();
        String ip = sql.getAddress().isAnyLocalAddress() ? "127.0.0.1" : sql.getAddress().getHostAddress();
        try {
            ip = sql.getAddress().isAnyLocalAddress() ? java.net.InetAddress.getLocalHost().getHostAddress() : ip;
        } catch (java.net.UnknownHostException e) {
            log.debug("no host address, registering 127.0.0.1", e);
        }
        String version = String.valueOf(TiProxyServer.class.getPackage().getImplementationVersion());
        TopologyInfo info = new TopologyInfo(version, "", ip, apiServer.localAddress().getPort(),
                System.getProperty("user.dir"), System.currentTimeMillis() / 1000, java.util.Map.of());
        registrar = new TopologyRegistrar(etcd, RegistrationSettings.of(new TopologyPaths(TopologyPaths.TIPROXY, ""),
                ip + ":" + sql.getPort(), info));
        registrar.start();
    }

    public InetSocketAddress sqlAddress() {
        return sqlListener.localAddress();
    }

    public InetSocketAddress apiAddress() {
        return apiServer.localAddress();
    }

    public ConnectionRegistry<ClientConnection> registry() {
        return registry;
    }

    /** Successful session migrations since start. */
    public int migrationsSucceeded() {
        return (int) migrations.succeeded();
    }

    public BackendRouter router() {
        return router;
    }

    /** Drains a backend (no new sessions; its sessions move away); false if unknown. */
    public boolean drain(String backend) {
        return observer.drain(backend, "drained by operator");
    }

    public boolean undrain(String backend) {
        return observer.undrain(backend);
    }

    public BackendObserver observer() {
        return observer;
    }

    /**
     * Graceful shutdown ({@link GracefulShutdown}: health 503, wait, stop accepting, sessions close at
     * their next safe point or at the timeout), then stops everything else.
     */
    @Override
    public void close() {
        TiProxyConfig config = reloader.current();
        new GracefulShutdown<>(new GracefulShutdown.Steps<ClientConnection>(
                () -> shuttingDown = true,
                sqlListener::stopAccepting,
                registry::all,
                c -> c.closeWhenIdle(MySqlError.shuttingDown(), ErrorSource.PROXY_SHUTDOWN),
                c -> c.kill(MySqlError.shuttingDown(), ErrorSource.PROXY_SHUTDOWN)),
                config.proxy().gracefulWaitBeforeShutdown(), config.proxy().gracefulCloseConnTimeout(),
                GracefulShutdown.Clock.SYSTEM).run();
        if (watcher != null) {
            watcher.close();
        }
        apiServer.close();
        if (registrar != null) {
            registrar.close();
        }
        observerSubscription.close();
        tidbReadiness.close();
        observer.close();
        if (etcd != null) {
            etcd.close();
        }
        router.close();
        idleSweeper.close();
        loadSampler.close();
        memoryGuard.close();
        workerGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        certs.close();
        metrics.close();
        log.info("TiProxy stopped");
    }
}
