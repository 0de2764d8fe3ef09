package io.tiproxy.tidb;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.PutOption;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What a <em>simulated</em> TiDB writes into PD's etcd, as TIDB-FACTS "Topology in PD's etcd" describes
 * TiDB doing it: {@code /topology/tidb/<ip>:<port>/info} (JSON with {@code version}, {@code git_hash},
 * {@code ip}, {@code status_port}, {@code deploy_path}, {@code start_timestamp}, {@code labels}; no lease;
 * rewritten every 30 s; the SQL port only in the key) and {@code /topology/tidb/<ip>:<port>/ttl} (Unix time
 * in nanoseconds, decimal, under a 45 s lease kept alive). A clean shutdown deletes the whole prefix.
 */
final class SimulatedTiDbTopology implements AutoCloseable {
    static final long LEASE_TTL_SECONDS = 45;
    static final long REFRESH_SECONDS = 30;
    private static final long KEEP_ALIVE_SECONDS = LEASE_TTL_SECONDS / 3;
    /** Generous: the first request on a loaded machine also opens the gRPC channel. */
    private static final long REQUEST_TIMEOUT_SECONDS = 30;

    private final Client etcd;
    private final String prefix;
    private final String info;
    private final ScheduledExecutorService timer;
    private final long leaseId;
    private boolean gone;

    /**
     * Registers a TiDB whose SQL port is {@code ip:port}; returns once both keys are written.
     *
     * @param release TiDB's release version, as the {@code version} field shows it (e.g. {@code v8.5.0})
     */
    SimulatedTiDbTopology(Client etcd, String ip, int port, int statusPort, String release, String deployPath)
            throws Exception {
        this.etcd = etcd;
        this.prefix = "/topology/tidb/" + ip + ":" + port + "/";
        this.info = "{\"version\":\"" + release + "\",\"git_hash\":\"simulated\",\"ip\":\"" + ip + "\",\"status_port\":"
                + statusPort + ",\"deploy_path\":\"" + deployPath + "\",\"start_timestamp\":"
                + Instant.now().getEpochSecond() + ",\"labels\":{}}";
        this.leaseId = await(etcd.getLeaseClient().grant(LEASE_TTL_SECONDS)).getID();
        writeKeys();
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sim-tidb-topology");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::keepAlive, KEEP_ALIVE_SECONDS, KEEP_ALIVE_SECONDS, TimeUnit.SECONDS);
        timer.scheduleWithFixedDelay(this::refresh, REFRESH_SECONDS, REFRESH_SECONDS, TimeUnit.SECONDS);
    }

    /** The key prefix, {@code /topology/tidb/<ip>:<port>/}. */
    String prefix() {
        return prefix;
    }

    private void writeKeys() throws Exception {
        await(etcd.getKVClient().put(bytes(prefix + "info"), bytes(info)));
        Instant now = Instant.now();
        String nanos = Long.toString(now.getEpochSecond() * 1_000_000_000L + now.getNano());
        await(etcd.getKVClient().put(bytes(prefix + "ttl"), bytes(nanos), PutOption.builder().withLeaseId(leaseId).build()));
    }

    private synchronized void keepAlive() {
        if (gone) {
            return;
        }
        try {
            await(etcd.getLeaseClient().keepAliveOnce(leaseId));
        } catch (Exception e) {
            // etcd unreachable for a moment: the next round tries again, as TiDB's session does
        }
    }

    private synchronized void refresh() {
        if (gone) {
            return;
        }
        try {
            writeKeys();
        } catch (Exception e) {
            // as above
        }
    }

    /** Clean shutdown: deletes every key under the prefix and revokes the lease. */
    @Override
    public synchronized void close() {
        if (gone) {
            return;
        }
        gone = true;
        timer.shutdownNow();
        try {
            await(etcd.getKVClient().delete(bytes(prefix), DeleteOption.builder().isPrefix(true).build()));
            await(etcd.getLeaseClient().revoke(leaseId));
        } catch (Exception e) {
            throw new IllegalStateException("simulated TiDB could not remove " + prefix + " from etcd", e);
        }
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }

    private static <T> T await(CompletableFuture<T> f) throws Exception {
        return f.get(REQUEST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }
}
