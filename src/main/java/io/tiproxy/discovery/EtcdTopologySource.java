package io.tiproxy.discovery;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.Watch;
import io.etcd.jetcd.kv.GetResponse;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.WatchOption;
import io.etcd.jetcd.watch.WatchEvent;
import io.etcd.jetcd.watch.WatchResponse;
import io.tiproxy.discovery.EtcdRequests.EtcdUnavailableException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * TiDB backends from PD's etcd ({@code /topology/tidb/<ip>:<port>/info|ttl}): a backend exists
 * while its {@code ttl} key exists; {@code info} adds status port, labels and version.
 *
 * <p>A prefix watch reports changes within milliseconds; a full read every
 * {@link EtcdTopologySettings#fullReadInterval()} heals anything the watch missed. When etcd cannot
 * be reached the last known topology stays (routing goes on), {@link #connected()} turns false, one
 * warning is logged per outage, and the source retries every second until a read succeeds; it then
 * starts a new watch from the revision of that read. (The {@link EtcdConnection} replaces its client
 * during a long outage, so that "etcd is back" is noticed within seconds.)
 *
 * <p>All state lives on one thread of its own; the connection belongs to the caller.
 */
public final class EtcdTopologySource implements BackendSource {
    private static final Logger log = LoggerFactory.getLogger(EtcdTopologySource.class);

    private final EtcdConnection etcd;
    private final EtcdTopologySettings settings;
    private final TopologyPaths paths;
    private final ObjectMapper json = new ObjectMapper();
    private final ScheduledExecutorService thread;
    private final TopologyModel model;

    // confined to `thread`
    private Listener listener;
    private Watch.Watcher watcher;
    /** Identifies the live watch; events of a closed one are dropped. */
    private Object currentWatchToken;
    private boolean delivered;
    private ScheduledFuture<?> nextRead;
    private boolean outageLogged;

    private volatile boolean connected;
    private volatile String lastError;
    private volatile Map<String, DiscoveredBackend> current = Map.of();
    private volatile boolean closed;
    private volatile boolean watching;

    /** With a client that is never renewed (the caller owns it). */
    public EtcdTopologySource(Client client, EtcdTopologySettings settings) {
        this(EtcdConnection.of(Objects.requireNonNull(client, "client")), settings);
    }

    public EtcdTopologySource(EtcdConnection etcd, EtcdTopologySettings settings) {
        this.etcd = Objects.requireNonNull(etcd, "etcd");
        this.settings = Objects.requireNonNull(settings, "settings");
        this.paths = new TopologyPaths(TopologyPaths.TIDB, settings.keyspace());
        this.model = new TopologyModel(paths, json);
        this.thread = DaemonThreads.singleScheduler("etcd-topology");
    }

    @Override
    public void start(Listener listener) {
        Objects.requireNonNull(listener, "listener");
        thread.execute(() -> {
            if (this.listener != null) {
                throw new IllegalStateException("already started");
            }
            this.listener = listener;
            readAll();
        });
    }

    @Override
    public Map<String, DiscoveredBackend> current() {
        return current;
    }

    @Override
    public boolean connected() {
        return connected;
    }

    @Override
    public Optional<String> lastError() {
        return connected ? Optional.empty() : Optional.ofNullable(lastError);
    }

    /** True while a watch is open (tests: the source recovered by itself after an outage). */
    boolean watching() {
        return watching;
    }

    @Override
    public void close() {
        closed = true;
        try {
            thread.submit(this::stopWatch).get(settings.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException | RejectedExecutionException e) {
            log.debug("etcd topology: stopping the watch: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        thread.shutdownNow();
    }

    // ---- on `thread` ----

    private void readAll() {
        if (closed) {
            return;
        }
        Client client = etcd.client();
        try {
            GetResponse response = await(client.getKVClient().get(EtcdClients.bytes(paths.prefix()),
                    GetOption.builder().isPrefix(true).build()));
            etcd.succeeded();
            Map<String, String> kvs = new HashMap<>();
            for (KeyValue kv : response.getKvs()) {
                kvs.put(EtcdClients.text(kv.getKey()), EtcdClients.text(kv.getValue()));
            }
            model.replaceAll(kvs);
            onReachable();
            if (watcher == null) {
                startWatch(client, response.getHeader().getRevision() + 1);
            }
            publish();
        } catch (EtcdUnavailableException e) {
            etcd.failed(client);
            onUnreachable(e.getMessage());
        }
        scheduleRead(connected ? settings.fullReadInterval() : settings.retryInterval());
    }

    private void startWatch(Client client, long fromRevision) {
        if (closed) {
            return;
        }
        Object token = new Object();
        WatchOption option = WatchOption.builder().isPrefix(true).withRevision(fromRevision).build();
        watcher = client.getWatchClient().watch(EtcdClients.bytes(paths.prefix()), option, Watch.listener(
                response -> onThread(() -> onWatchEvents(token, response)),
                error -> onThread(() -> onWatchError(token, error))));
        currentWatchToken = token;
        watching = true;
        log.debug("etcd topology: watching {} from revision {}", paths.prefix(), fromRevision);
    }

    private void onWatchEvents(Object token, WatchResponse response) {
        if (token != currentWatchToken || closed) {
            return;
        }
        for (WatchEvent event : response.getEvents()) {
            String key = EtcdClients.text(event.getKeyValue().getKey());
            switch (event.getEventType()) {
                case PUT -> model.put(key, EtcdClients.text(event.getKeyValue().getValue()));
                case DELETE -> model.remove(key);
                default -> log.debug("etcd topology: ignoring {} event on {}", event.getEventType(), key);
            }
        }
        publish();
    }

    private void onWatchError(Object token, Throwable error) {
        if (token != currentWatchToken || closed) {
            return;
        }
        stopWatch();
        onUnreachable("watch failed: " + error);
        scheduleRead(settings.retryInterval());
    }

    private void stopWatch() {
        currentWatchToken = null;
        watching = false;
        if (watcher != null) {
            try {
                watcher.close();
            } catch (RuntimeException e) {
                log.debug("etcd topology: closing watcher: {}", e.toString());
            }
            watcher = null;
        }
    }

    private void onReachable() {
        if (!connected && outageLogged) {
            log.info("etcd topology: etcd is reachable again; re-reading {} and watching it", paths.prefix());
        }
        connected = true;
        outageLogged = false;
        lastError = null;
    }

    private void onUnreachable(String why) {
        connected = false;
        lastError = why;
        stopWatch();
        if (!outageLogged) {
            outageLogged = true;
            log.warn("etcd topology: cannot reach etcd ({}); keeping the last known {} backend(s) and retrying",
                    why, current.size());
        }
    }

    private void publish() {
        Map<String, DiscoveredBackend> backends = model.backends();
        if (delivered && backends.equals(current)) {
            return;
        }
        delivered = true;
        current = backends;
        listener.onBackends(backends);
    }

    private void scheduleRead(Duration delay) {
        if (closed) {
            return;
        }
        if (nextRead != null) {
            nextRead.cancel(false);
        }
        nextRead = thread.schedule(this::readAll, delay.toMillis(), TimeUnit.MILLISECONDS);
    }

    private void onThread(Runnable task) {
        try {
            thread.execute(task);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    private <T> T await(CompletableFuture<T> future) throws EtcdUnavailableException {
        return EtcdRequests.await(future, settings.requestTimeout());
    }
}
