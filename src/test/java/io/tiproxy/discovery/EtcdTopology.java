package io.tiproxy.discovery;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.etcd.jetcd.options.PutOption;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Test-side writes and reads of PD's topology keys, done with plain jetcd calls (not the product's code). */
public final class EtcdTopology {
    /** Generous: etcd fsyncs every write, and this 2-core host is often busy with other benchmarks. */
    private static final long WRITE_TIMEOUT_SECONDS = 20;

    private final Client client;

    public EtcdTopology(Client client) {
        this.client = client;
    }

    /** What TiDB writes: {@code info} without lease, {@code ttl} (Unix nanos) under a lease of {@code ttlSeconds}. */
    public long registerTidb(String prefix, String address, String infoJson, long ttlSeconds) throws Exception {
        long lease = client.getLeaseClient().grant(ttlSeconds).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getID();
        put(prefix + address + "/info", infoJson, 0);
        put(prefix + address + "/ttl", Long.toString(System.currentTimeMillis() * 1_000_000L), lease);
        return lease;
    }

    public void put(String key, String value, long lease) throws Exception {
        PutOption option = lease == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(lease).build();
        client.getKVClient().put(bytes(key), bytes(value), option).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    public void delete(String key) throws Exception {
        client.getKVClient().delete(bytes(key)).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    public void deleteAll() throws Exception {
        client.getKVClient().delete(bytes("/"), DeleteOption.builder().isPrefix(true).build()).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    public Optional<String> get(String key) throws Exception {
        var kvs = client.getKVClient().get(bytes(key), GetOption.DEFAULT).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getKvs();
        return kvs.isEmpty() ? Optional.empty() : Optional.of(kvs.get(0).getValue().toString(StandardCharsets.UTF_8));
    }

    public long leaseOf(String key) throws Exception {
        var kvs = client.getKVClient().get(bytes(key), GetOption.DEFAULT).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getKvs();
        return kvs.isEmpty() ? 0 : kvs.get(0).getLease();
    }

    /** The lease's remaining and granted TTL in seconds: {@code [ttl, granted]}; ttl is -1 once it is gone. */
    public long[] leaseTtl(long lease) throws Exception {
        var r = client.getLeaseClient().timeToLive(lease, LeaseOption.DEFAULT).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        return new long[] {r.getTTL(), r.getGrantedTTL()};
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }
}
