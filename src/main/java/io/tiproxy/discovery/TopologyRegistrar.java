package io.tiproxy.discovery;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.lease.LeaseKeepAliveResponse;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;
import io.tiproxy.discovery.EtcdRequests.EtcdUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Keeps one member in PD's topology, as TiDB and TiProxy do: {@code <prefix><addr>/info} (JSON,
 * no lease) and {@code <prefix><addr>/ttl} (Unix nanoseconds, decimal, under a lease of
 * {@link RegistrationSettings#leaseTtl()}). The lease is kept alive every third of its TTL; both keys
 * are rewritten every {@link RegistrationSettings#refreshInterval()}. When the lease is lost (etcd was
 * down longer than the TTL) a new one is granted and the keys are written again. {@link #close()}
 * deletes both keys and revokes the lease, so the member disappears at once.
 *
 * <p>Used by the proxy for {@code /topology/tiproxy/...} and by {@code tiproxyctl register} to put
 * MariaDB/MySQL servers into the {@code tidb} tree. The connection belongs to the caller (it renews its
 * client during a long outage, before the lease can expire for want of a reconnect).
 */
public final class TopologyRegistrar implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TopologyRegistrar.class);
    private static final long RETRY_MILLIS = 1000;

    private final EtcdConnection etcd;
    private final RegistrationSettings settings;
    private final Clock clock;
    private final String infoJson;
    private final ScheduledExecutorService thread;

    // confined to `thread`
    private volatile long leaseId;
    private Instant lastWrite = Instant.EPOCH;
    private boolean outageLogged;

    private volatile boolean registered;
    private volatile boolean closed;

    /** With a client that is never renewed (the caller owns it). */
    public TopologyRegistrar(Client client, RegistrationSettings settings) {
        this(EtcdConnection.of(Objects.requireNonNull(client, "client")), settings, Clock.systemUTC());
    }

    public TopologyRegistrar(EtcdConnection etcd, RegistrationSettings settings) {
        this(etcd, settings, Clock.systemUTC());
    }

    TopologyRegistrar(EtcdConnection etcd, RegistrationSettings settings, Clock clock) {
        this.etcd = Objects.requireNonNull(etcd, "etcd");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.infoJson = settings.info().toJson(new ObjectMapper());
        this.thread = DaemonThreads.singleScheduler("topology-registrar");
    }

    /** Registers in the background (retrying while etcd is unreachable) and keeps the keys alive. */
    public void start() {
        thread.execute(this::tick);
    }

    /** True while the keys were last written or kept alive successfully. */
    public boolean registered() {
        return registered;
    }

    /** The {@code ttl} key this registrar keeps. */
    public String ttlKey() {
        return settings.paths().ttlKey(settings.address());
    }

    /** The {@code info} key this registrar keeps. */
    public String infoKey() {
        return settings.paths().infoKey(settings.address());
    }

    /** Stops refreshing, deletes both keys and revokes the lease (each bounded by the request timeout). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        thread.shutdownNow();
        try {
            thread.awaitTermination(settings.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        registered = false;
        try {
            call(c -> c.getKVClient().delete(EtcdClients.bytes(settings.paths().memberPrefix(settings.address())),
                    DeleteOption.builder().isPrefix(true).build()));
            if (leaseId != 0) {
                call(c -> c.getLeaseClient().revoke(leaseId));
            }
            log.info("topology: deregistered {}", settings.paths().memberPrefix(settings.address()));
        } catch (EtcdUnavailableException e) {
            log.warn("topology: could not deregister {} ({}); its ttl key expires with the lease",
                    settings.paths().memberPrefix(settings.address()), e.getMessage());
        }
    }

    // ---- on `thread` ----

    private void tick() {
        if (closed) {
            return;
        }
        long delay = settings.keepAliveInterval().toMillis();
        try {
            if (leaseId == 0) {
                register();
            } else if (!keepAlive()) {
                log.info("topology: lease of {} was lost; registering again", ttlKey());
                leaseId = 0;
                register();
            } else if (!clock.instant().isBefore(lastWrite.plus(settings.refreshInterval()))) {
                writeKeys();
            }
            onSuccess();
        } catch (EtcdUnavailableException e) {
            onFailure(e.getMessage());
            delay = RETRY_MILLIS;
        }
        if (!closed) {
            try {
                thread.schedule(this::tick, delay, TimeUnit.MILLISECONDS);
            } catch (RejectedExecutionException e) {
                // closed meanwhile
            }
        }
    }

    private void register() throws EtcdUnavailableException {
        leaseId = call(c -> c.getLeaseClient().grant(settings.leaseTtl().toSeconds())).getID();
        writeKeys();
        log.info("topology: registered {} (lease {} s)", settings.paths().memberPrefix(settings.address()),
                settings.leaseTtl().toSeconds());
    }

    private void writeKeys() throws EtcdUnavailableException {
        call(c -> c.getKVClient().put(EtcdClients.bytes(infoKey()), EtcdClients.bytes(infoJson)));
        Instant now = clock.instant();
        String nanos = Long.toString(now.getEpochSecond() * 1_000_000_000L + now.getNano());
        call(c -> c.getKVClient().put(EtcdClients.bytes(ttlKey()), EtcdClients.bytes(nanos),
                PutOption.builder().withLeaseId(leaseId).build()));
        lastWrite = now;
    }

    /** False when etcd answered that the lease is gone; throws when etcd did not answer. */
    private boolean keepAlive() throws EtcdUnavailableException {
        try {
            LeaseKeepAliveResponse response = call(c -> c.getLeaseClient().keepAliveOnce(leaseId));
            return response.getTTL() > 0;
        } catch (EtcdUnavailableException e) {
            if (String.valueOf(e.getMessage()).contains("not found")) {
                return false;
            }
            throw e;
        }
    }

    private void onSuccess() {
        if (outageLogged) {
            log.info("topology: etcd is reachable again; {} is registered", ttlKey());
        }
        outageLogged = false;
        registered = true;
    }

    private void onFailure(String why) {
        registered = false;
        if (!outageLogged) {
            outageLogged = true;
            log.warn("topology: cannot keep {} registered ({}); retrying every second", ttlKey(), why);
        }
    }

    /** One request on the connection's current client, bounded by the request timeout; reports its outcome. */
    private <T> T call(Function<Client, CompletableFuture<T>> request) throws EtcdUnavailableException {
        Client client = etcd.client();
        try {
            T result = EtcdRequests.await(request.apply(client), settings.requestTimeout());
            etcd.succeeded();
            return result;
        } catch (EtcdUnavailableException e) {
            etcd.failed(client);
            throw e;
        }
    }
}
