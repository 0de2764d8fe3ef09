package io.tiproxy.discovery;

import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.options.DeleteOption;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.PutOption;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** Test-side writes and reads of PD's topology keys, done with plain jetcd calls (not the product's code). */
final class EtcdTopology {
    /** Generous: etcd fsyncs every write, and this 2-core host is often busy with other benchmarks. */
    private static final long WRITE_TIMEOUT_SECONDS = 20;

    private final Client client;

    EtcdTopology(Client client) {
        this.client = client;
    }

    /** What TiDB writes: {@code info} without lease, {@code ttl} (Unix nanos) under a lease of {@code ttlSeconds}. */
    long registerTidb(String prefix, String address, String infoJson, long ttlSeconds) throws Exception {
        long lease = client.getLeaseClient().grant(ttlSeconds).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getID();
        put(prefix + address + "/info", infoJson, 0);
        put(prefix + address + "/ttl", Long.toString(System.currentTimeMillis() * 1_000_000L), lease);
        return lease;
    }

    void put(String key, String value, long lease) throws Exception {
        PutOption option = lease == 0 ? PutOption.DEFAULT : PutOption.builder().withLeaseId(lease).build();
        client.getKVClient().put(bytes(key), bytes(value), option).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    void delete(String key) throws Exception {
        client.getKVClient().delete(bytes(key)).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    void deleteAll() throws Exception {
        client.getKVClient().delete(bytes("/"), DeleteOption.builder().isPrefix(true).build()).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    Optional<String> get(String key) throws Exception {
        var kvs = client.getKVClient().get(bytes(key), GetOption.DEFAULT).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getKvs();
        return kvs.isEmpty() ? Optional.empty() : Optional.of(kvs.get(0).getValue().toString(StandardCharsets.UTF_8));
    }

    long leaseOf(String key) throws Exception {
        var kvs = client.getKVClient().get(bytes(key), GetOption.DEFAULT).get(WRITE_TIMEOUT_SECONDS, TimeUnit.SECONDS).getKvs();
        return kvs.isEmpty() ? 0 : kvs.get(0).getLease();
    }

    private static ByteSequence bytes(String s) {
        return ByteSequence.from(s, StandardCharsets.UTF_8);
    }
}
