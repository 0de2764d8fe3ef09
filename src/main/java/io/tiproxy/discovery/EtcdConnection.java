package io.tiproxy.discovery;

import io.etcd.jetcd.Client;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * The jetcd client that discovery and registration share, replaced by a fresh one while etcd stays
 * unreachable. Why: jetcd's gRPC channel retries a lost connection with exponential back-off that grows
 * to two minutes and cannot be reset from outside. After a 60 s etcd outage its next attempt can come
 * 30 to 50 s after etcd is back, long enough for the 45 s leases of the registrations to expire and for
 * discovery to miss changes. A new client connects at its first request, so renewing it every
 * {@link #RENEW_AFTER} of failures bounds the time to notice that etcd is back to about that long.
 *
 * <p>Users report each request's outcome ({@link #succeeded()}, {@link #failed(Client)}); the client
 * is renewed on a failure once requests have failed for {@link #RENEW_AFTER} without any success, and
 * at most once per that period. The replaced client is closed later (at the next success or renewal), so
 * that requests still waiting on it end by their own timeout rather than by a closed channel. A
 * connection made {@link #of(Client) of a given client} never renews it. Thread-safe.
 */
public final class EtcdConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(EtcdConnection.class);
    /** How long requests fail before the client is replaced (and between two replacements). */
    public static final Duration RENEW_AFTER = Duration.ofSeconds(10);

    private final Supplier<Client> factory;
    private final long renewAfterNanos;
    private volatile Client client;
    /** The client replaced last, closed at the next success or renewal; null: none. */
    private Client retired;
    /** nanoTime of the first failure since the last success or renewal; 0: none. */
    private long failingSince;
    /** Renewals since the last success: only the first of an outage is logged at INFO. */
    private int renewals;
    private boolean closed;

    EtcdConnection(Supplier<Client> factory, Client first, Duration renewAfter) {
        this.factory = factory;
        this.client = Objects.requireNonNull(first, "client");
        this.renewAfterNanos = renewAfter.toNanos();
    }

    /** A renewing connection to {@code endpoints} (as {@link EtcdClients#connect}). */
    public static EtcdConnection connect(List<String> endpoints) {
        return new EtcdConnection(() -> EtcdClients.connect(endpoints), EtcdClients.connect(endpoints), RENEW_AFTER);
    }

    /** A connection that always uses {@code client} (never renewed; the caller keeps owning it). */
    public static EtcdConnection of(Client client) {
        return new EtcdConnection(null, client, RENEW_AFTER);
    }

    /** The client to use for the next request. */
    public Client client() {
        return client;
    }

    /** A request on the current client was answered. */
    public void succeeded() {
        Client old;
        synchronized (this) {
            failingSince = 0;
            renewals = 0;
            old = retired;
            retired = null;
        }
        if (old != null) {
            closeQuietly(old);
        }
    }

    /** A request on {@code used} failed (no answer, connection refused...); may replace the client. */
    public void failed(Client used) {
        Client old;
        int count;
        synchronized (this) {
            if (closed || factory == null || used != client) {
                return;
            }
            long now = System.nanoTime();
            if (failingSince == 0) {
                failingSince = now;
                return;
            }
            if (now - failingSince < renewAfterNanos) {
                return;
            }
            old = retired;
            retired = client;
            client = factory.get();
            failingSince = now;
            count = ++renewals;
        }
        if (count == 1) {
            log.info("etcd: no answer for {} s; connecting with a new client (again every {} s until etcd answers)",
                    renewAfterNanos / 1_000_000_000L, renewAfterNanos / 1_000_000_000L);
        } else {
            log.debug("etcd: still no answer; new client #{}", count);
        }
        if (old != null) {
            closeQuietly(old);
        }
    }

    /** Closes the current client, unless it was handed in with {@link #of(Client)}. */
    @Override
    public void close() {
        Client last;
        Client old;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            last = client;
            old = retired;
            retired = null;
        }
        if (old != null) {
            closeQuietly(old);
        }
        if (factory != null) {
            closeQuietly(last);
        }
    }

    private static void closeQuietly(Client c) {
        try {
            c.close();
        } catch (RuntimeException e) {
            log.debug("etcd: closing a client: {}", e.toString());
        }
    }
}
