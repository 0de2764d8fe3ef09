package io.tiproxy.proxy.backend;

import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Promise;
import io.tiproxy.manager.config.BackendConfig;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.proxy.net.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Reads each healthy backend's load for the balance policy: {@code SHOW GLOBAL STATUS LIKE
 * 'Threads_running'} (statements executing now, on MariaDB and MySQL; any account may read it), minus
 * the one thread that runs this statement; and, pipelined behind it, the session-tracking globals
 * ({@link TrackingDefaults}). Logged in as {@code backend.service-user}, over one connection
 * per backend kept open between samples, so a sample costs one small query and no login; a connection
 * that fails or does not answer within {@link #QUERY_TIMEOUT} is closed and opened again next time. A
 * backend that reports no such variable (TiDB) gives no sample: its load stays unknown, which the load
 * factor treats as neutral. Without a service user, or with a zero interval, nothing is sampled.
 *
 * <p>All work happens on one event loop; the service account and the interval are re-read every round
 * (hot-reloadable).
 */
public final class BackendLoadSampler implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(BackendLoadSampler.class);
    static final String QUERY = "SHOW GLOBAL STATUS LIKE 'Threads_running'";
    private static final Duration QUERY_TIMEOUT = Duration.ofSeconds(2);
    /** How soon to look again while sampling is off, so a reload that turns it on is noticed. */
    private static final Duration IDLE_RECHECK = Duration.ofSeconds(1);
    private static final long SERVICE_CAPS = Capabilities.CLIENT_MYSQL | Capabilities.CLIENT_PROTOCOL_41
            | Capabilities.CLIENT_SECURE_CONNECTION | Capabilities.CLIENT_PLUGIN_AUTH | Capabilities.CLIENT_TRANSACTIONS
            | Capabilities.CLIENT_DEPRECATE_EOF;

    private final Transport transport;
    private final EventLoop loop;
    private final Supplier<BackendConfig> account;
    private final Supplier<List<String>> backends;
    private final Function<String, InetSocketAddress> resolver;
    private final Supplier<SslContext> tls;
    private final Supplier<Duration> interval;
    private final BiConsumer<String, Double> sink;
    private final TrackingDefaults tracking;
    // confined to the loop
    private final Map<String, ProxyCommandChannel> channels = new HashMap<>();
    private final Set<String> busy = new HashSet<>();
    private final Set<String> warned = new HashSet<>();
    private volatile boolean closed;

    /**
     * @param backends the backends to sample (the healthy ones), read every round
     * @param interval time between samples; zero turns sampling off; read every round
     * @param sink     receives (backend, running threads besides the sampler's own)
     * @param tracking told, with every sample, whether the backend's globals already track sessions fully
     */
    public BackendLoadSampler(Transport transport, EventLoop loop, Supplier<BackendConfig> account,
                              Supplier<List<String>> backends, Function<String, InetSocketAddress> resolver,
                              Supplier<SslContext> tls, Supplier<Duration> interval, BiConsumer<String, Double> sink,
                              TrackingDefaults tracking) {
        this.transport = transport;
        this.loop = loop;
        this.account = account;
        this.backends = backends;
        this.resolver = resolver;
        this.tls = tls;
        this.interval = interval;
        this.sink = sink;
        this.tracking = tracking;
    }

    public void start() {
        loop.execute(this::round);
    }

    private void round() {
        if (closed) {
            return;
        }
        Duration every = interval.get();
        if (every.isZero() || account.get().serviceUser().isEmpty()) {
            closeAll();
            tracking.forgetAll();
            loop.schedule(this::round, IDLE_RECHECK.toMillis(), TimeUnit.MILLISECONDS);
            return;
        }
        List<String> targets = backends.get();
        for (String addr : List.copyOf(channels.keySet())) {
            if (!targets.contains(addr)) {
                channels.remove(addr).close();
                tracking.forget(addr);
            }
        }
        for (String addr : targets) {
            if (busy.add(addr)) {
                sample(addr);
            }
        }
        loop.schedule(this::round, every.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void sample(String addr) {
        ProxyCommandChannel ch = channels.get(addr);
        if (ch != null) {
            query(addr, ch);
            return;
        }
        BackendConfig service = account.get();
        BackendAuthenticator.LoginRequest req = new BackendAuthenticator.LoginRequest(service.serviceUser(), null, 33,
                SERVICE_CAPS, null, Credential.ofPassword(service.servicePassword()));
        BackendAuthenticator.login(loop, transport, addr, resolver.apply(addr), QUERY_TIMEOUT, tls.get(), req)
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        busy.remove(addr);
                        tracking.forget(addr);
                        if (warned.add(addr)) {
                            log.warn("cannot read the load of {} (service account login): {}", addr, f.cause().getMessage());
                        }
                        return;
                    }
                    var auth = (BackendAuthenticator.Authenticated) f.getNow();
                    ProxyCommandChannel fresh = new ProxyCommandChannel(auth.connection(), auth.deprecateEof());
                    if (closed) {
                        fresh.close();
                        return;
                    }
                    channels.put(addr, fresh);
                    query(addr, fresh);
                });
    }

    private void query(String addr, ProxyCommandChannel ch) {
        Promise<QueryResult> result = ch.query(QUERY);
        Promise<QueryResult> defaults = ch.query(TrackingDefaults.QUERY);
        defaults.addListener(d -> {
            if (d.isSuccess()) {
                tracking.report(addr, defaults.getNow());
            } else {
                tracking.forget(addr);
            }
        });
        var timer = loop.schedule(() -> {
            if (!result.isDone()) {
                ch.close(); // fails the promise
            }
        }, QUERY_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        result.addListener(q -> {
            timer.cancel(false);
            busy.remove(addr);
            if (!q.isSuccess() || result.getNow().isError()) {
                if (channels.get(addr) == ch) {
                    channels.remove(addr);
                }
                ch.close();
                return;
            }
            warned.remove(addr);
            Double running = parse(result.getNow());
            if (running != null) {
                sink.accept(addr, Math.max(0, running - 1));
            }
        });
    }

    /** The value of the {@code Threads_running} row, or null when there is none (or it is not a number). */
    static Double parse(QueryResult r) {
        for (int i = 0; i < r.rows().size(); i++) {
            if ("Threads_running".equalsIgnoreCase(r.text(i, 0))) {
                try {
                    return Double.parseDouble(r.text(i, 1));
                } catch (NumberFormatException | NullPointerException e) {
                    return null;
                }
            }
        }
        return null;
    }

    private void closeAll() {
        channels.values().forEach(ProxyCommandChannel::close);
        channels.clear();
    }

    @Override
    public void close() {
        closed = true;
        if (!loop.isShuttingDown()) {
            loop.execute(this::closeAll);
        }
    }
}
