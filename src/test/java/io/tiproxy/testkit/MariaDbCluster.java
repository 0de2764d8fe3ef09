package io.tiproxy.testkit;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Several independent {@link MariaDbServer}s (not replicated: each has its own data).
 *
 * <p>{@link #shared()} is one cluster of three servers for the whole JVM, started on first use and
 * stopped by a shutdown hook; tests must leave it as they found it (no killing, no global settings).
 * Tests that kill or reconfigure servers start their own with {@link #startNew(String, int)}.
 */
public final class MariaDbCluster implements AutoCloseable {
    private static final int SHARED_SIZE = 3;
    /** Server ids 1..3 belong to the shared cluster; others count up from here. */
    private static final AtomicInteger NEXT_SERVER_ID = new AtomicInteger(101);
    private static MariaDbCluster shared;

    private final List<MariaDbServer> servers;

    private MariaDbCluster(List<MariaDbServer> servers) {
        this.servers = List.copyOf(servers);
    }

    /** The JVM-wide cluster of three servers (server ids 1, 2, 3). */
    public static synchronized MariaDbCluster shared() {
        if (shared == null) {
            MariaDbCluster cluster = start("shared", SHARED_SIZE, i -> i + 1);
            Runtime.getRuntime().addShutdownHook(new Thread(cluster::close, "mariadb-shared-cluster-stop"));
            shared = cluster;
        }
        return shared;
    }

    /** A cluster of {@code n} fresh servers for one test; the caller closes it. */
    public static MariaDbCluster startNew(String prefix, int n) {
        return start(prefix, n, i -> NEXT_SERVER_ID.getAndIncrement());
    }

    private static MariaDbCluster start(String prefix, int n, java.util.function.IntUnaryOperator serverId) {
        if (n < 1) {
            throw new IllegalArgumentException("a cluster needs at least one server, got " + n);
        }
        // install-db and startup are mostly waiting: start the servers side by side
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, 3));
        List<Future<MariaDbServer>> futures = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                String name = prefix + "-" + (i + 1);
                int id = serverId.applyAsInt(i);
                futures.add(pool.submit(() -> MariaDbServer.start(name, id)));
            }
            List<MariaDbServer> started = new ArrayList<>();
            RuntimeException failure = null;
            for (Future<MariaDbServer> future : futures) {
                try {
                    started.add(future.get());
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    failure = new IllegalStateException("interrupted while starting " + prefix, e);
                    break;
                }
            }
            if (failure != null) {
                started.forEach(MariaDbServer::close);
                throw failure;
            }
            return new MariaDbCluster(started);
        } finally {
            pool.shutdown();
        }
    }

    public List<MariaDbServer> servers() {
        return servers;
    }

    /** The i-th server, counting from 0. */
    public MariaDbServer server(int i) {
        return servers.get(i);
    }

    public int size() {
        return servers.size();
    }

    /** {@code "127.0.0.1:port"} of each server, in order. */
    public List<String> addresses() {
        return servers.stream().map(MariaDbServer::address).toList();
    }

    /** Stops every server and deletes its data. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (MariaDbServer server : servers) {
            try {
                server.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }
}
