package io.tiproxy.proxy.backend;

import io.netty.channel.EventLoop;
import io.netty.handler.ssl.SslContext;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.Capabilities;
import io.tiproxy.proxy.net.Transport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Reads the stored mysql_native_password hashes (SHA1(SHA1(password))) of an account from a backend,
 * logged in as the configured service account. With one of them and a client's own login exchange the
 * proxy derives SHA1(password), which lets it log the session in on another backend. Results are
 * cached briefly, and lookups of a user already being looked up wait for that one, so that draining a
 * backend with many sessions of one user costs one service login and one query.
 */
public final class AccountHashes {
    private static final Logger log = LoggerFactory.getLogger(AccountHashes.class);
    private static final Duration CACHE_TTL = Duration.ofSeconds(30);
    private static final long SERVICE_CAPS = Capabilities.CLIENT_MYSQL | Capabilities.CLIENT_PROTOCOL_41
            | Capabilities.CLIENT_SECURE_CONNECTION | Capabilities.CLIENT_PLUGIN_AUTH | Capabilities.CLIENT_TRANSACTIONS
            | Capabilities.CLIENT_MULTI_RESULTS | Capabilities.CLIENT_DEPRECATE_EOF;

    private record Entry(List<byte[]> hashes, long expiresAtNanos) {}

    private final Transport transport;
    private final Supplier<io.tiproxy.manager.config.BackendConfig> account;
    private final Supplier<List<String>> backends;
    private final Function<String, InetSocketAddress> resolver;
    private final Supplier<SslContext> tls;
    private final Map<String, Entry> cache = new ConcurrentHashMap<>();
    /** Lookups under way, by user: a second caller waits for the first one's answer. */
    private final Map<String, Promise<List<byte[]>>> inFlight = new ConcurrentHashMap<>();
    /** When a lookup last failed: background lookups pause for a cache lifetime after it. */
    private volatile long lastFailureNanos = System.nanoTime() - CACHE_TTL.toNanos();

    /** @param account the service account in force now (re-read for every lookup: hot-reloadable) */
    public AccountHashes(Transport transport, Supplier<io.tiproxy.manager.config.BackendConfig> account,
                         Supplier<List<String>> backends, Function<String, InetSocketAddress> resolver,
                         Supplier<SslContext> tls) {
        this.transport = transport;
        this.account = account;
        this.backends = backends;
        this.resolver = resolver;
        this.tls = tls;
    }

    public boolean configured() {
        return !account.get().serviceUser().isEmpty();
    }

    /**
     * The hashes of {@code user} if a lookup answered within the cache's lifetime, else null; never
     * waits. A login uses them to answer the backend's salt itself (see {@code ClientHandshake}).
     */
    public List<byte[]> cached(String user) {
        Entry e = cache.get(user);
        return e != null && e.expiresAtNanos() - System.nanoTime() > 0 ? e.hashes() : null;
    }

    /**
     * Looks {@code user} up in the background, so that its next logins find the hashes cached; nothing
     * happens when they are cached or being looked up, when no service account is configured, or for
     * a cache lifetime after a failed lookup (a wrong service password costs one attempt per 30 s, not
     * one per login).
     */
    public void prefetch(EventLoop loop, String user) {
        if (!configured() || cached(user) != null || inFlight.containsKey(user)
                || System.nanoTime() - lastFailureNanos < CACHE_TTL.toNanos()) {
            return;
        }
        lookup(loop, user);
    }

    /** The stored native-password hashes of every account named {@code user} (any host). */
    public Future<List<byte[]>> lookup(EventLoop loop, String user) {
        Promise<List<byte[]>> result = loop.newPromise();
        Entry e = cache.get(user);
        if (e != null && e.expiresAtNanos() - System.nanoTime() > 0) {
            return result.setSuccess(e.hashes());
        }
        if (!configured()) {
            return result.setFailure(new IllegalStateException("no backend.service-user is configured"));
        }
        List<String> candidates = backends.get();
        if (candidates.isEmpty()) {
            return result.setFailure(new IllegalStateException("no healthy backend to read account hashes from"));
        }
        Promise<List<byte[]>> running = inFlight.putIfAbsent(user, result);
        if (running != null) {
            // the answer is handed over on this caller's loop (promise listeners run on its executor)
            running.addListener(f -> {
                if (f.isSuccess()) {
                    result.trySuccess(running.getNow());
                } else {
                    result.tryFailure(f.cause());
                }
            });
            return result;
        }
        result.addListener(f -> {
            inFlight.remove(user, result);
            if (!f.isSuccess()) {
                lastFailureNanos = System.nanoTime();
            }
        });
        tryBackend(loop, user, candidates, 0, result);
        return result;
    }

    private void tryBackend(EventLoop loop, String user, List<String> candidates, int i, Promise<List<byte[]>> result) {
        if (i >= candidates.size()) {
            result.tryFailure(new IllegalStateException("no backend answered the account lookup"));
            return;
        }
        String addr = candidates.get(i);
        var service = account.get();
        BackendAuthenticator.LoginRequest req = new BackendAuthenticator.LoginRequest(service.serviceUser(), null, 33,
                SERVICE_CAPS, null, Credential.ofPassword(service.servicePassword()));
        BackendAuthenticator.login(loop, transport, addr, resolver.apply(addr), Duration.ofSeconds(5), tls.get(), req)
                .addListener(f -> {
                    if (!f.isSuccess()) {
                        log.warn("service account cannot log in to {}: {}", addr, f.cause().getMessage());
                        tryBackend(loop, user, candidates, i + 1, result);
                        return;
                    }
                    var auth = (BackendAuthenticator.Authenticated) f.getNow();
                    ProxyCommandChannel ch = new ProxyCommandChannel(auth.connection(), auth.deprecateEof());
                    ch.query("SELECT plugin, authentication_string FROM mysql.user WHERE User = "
                            + io.tiproxy.session.TrackedState.quote(user)).addListener(q -> {
                        ch.close();
                        if (!q.isSuccess() || ((QueryResult) q.getNow()).isError()) {
                            String why = q.isSuccess() ? ((QueryResult) q.getNow()).errorMessage() : q.cause().getMessage();
                            result.tryFailure(new IllegalStateException("account lookup failed on " + addr + ": " + why));
                            return;
                        }
                        List<byte[]> hashes = parse((QueryResult) q.getNow());
                        cache.put(user, new Entry(hashes, System.nanoTime() + CACHE_TTL.toNanos()));
                        result.trySuccess(hashes);
                    });
                });
    }

    private static List<byte[]> parse(QueryResult r) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < r.rows().size(); i++) {
            String plugin = r.text(i, 0);
            String hash = r.text(i, 1);
            boolean native_ = plugin == null || plugin.isEmpty() || plugin.equals("mysql_native_password");
            if (native_ && hash != null && hash.length() == 41 && hash.charAt(0) == '*') {
                out.add(HexFormat.of().parseHex(hash.substring(1)));
            }
        }
        return out;
    }
}
