package io.tiproxy.tidb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestProxy;

import java.io.IOException;
import java.net.BindException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.awaitility.Awaitility.await;

/**
 * Simulated TiDBs (one per MariaDB of the shared cluster) registered in a real etcd that plays PD, and
 * the proxy in front of them with {@code proxy.pd-addrs}: the setup of a TiDB user, for tests. Health
 * checks run every 300 ms so that a TiDB's graceful shutdown is noticed well within a few seconds.
 */
final class SimulatedTiDbCluster implements AutoCloseable {
    /** Fast checks: a status port answering 500 makes its TiDB unhealthy after one check. */
    static final String FAST_HEALTH_CHECK = "health-check:\n  interval: \"300ms\"\n  timeout: \"2s\"\n"
            + "  fail-threshold: 1\n  recover-threshold: 1\n";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final EtcdServer etcd;
    private final Client client;
    private final MariaDbCluster backends = MariaDbCluster.shared();
    private final List<SimulatedTiDb> tidbs = new ArrayList<>();
    private final List<SimulatedTiDbSigningCert> certs;
    private TestProxy proxy;

    /** @param certs the signing certificate of each TiDB (null: none); at most one per shared MariaDB */
    SimulatedTiDbCluster(String name, List<SimulatedTiDbSigningCert> certs) throws Exception {
        this.certs = new ArrayList<>(certs);
        this.etcd = EtcdServer.start(name);
        this.client = Client.builder().endpoints(etcd.endpoint()).build();
        try {
            for (int i = 0; i < certs.size(); i++) {
                tidbs.add(startTiDb(i, 0, 0));
            }
        } catch (Exception e) {
            close();
            throw e;
        }
    }

    private SimulatedTiDb startTiDb(int i, int sqlPort, int statusPort) throws Exception {
        SimulatedTiDb tidb = new SimulatedTiDb("tidb-" + (i + 1), backends.server(i), sqlPort, statusPort);
        try {
            if (certs.get(i) != null) {
                tidb.loadSigningCert(certs.get(i));
            }
            tidb.registerIn(client);
            return tidb;
        } catch (Exception e) {
            tidb.close();
            throw e;
        }
    }

    /** The proxy, discovering the TiDBs from etcd ({@code extraYaml}: more top-level sections). */
    TestProxy startProxy(String extraYaml) {
        proxy = TestProxy.start(List.of(), "  pd-addrs: \"" + etcd.address() + "\"\n", FAST_HEALTH_CHECK + extraYaml);
        return proxy;
    }

    SimulatedTiDb tidb(int i) {
        return tidbs.get(i);
    }

    List<SimulatedTiDb> tidbs() {
        return List.copyOf(tidbs);
    }

    /** The TiDB fronting the MariaDB with this {@code @@server_id}. */
    SimulatedTiDb byServerId(long serverId) {
        return tidbs.stream().filter(t -> t.backend().serverId() == serverId).findFirst().orElseThrow();
    }

    /**
     * Starts TiDB {@code i} again after it stopped: same ports and certificate, registered anew. A port
     * still held by the old process's closing sockets is retried for a while.
     */
    SimulatedTiDb restart(int i) throws Exception {
        SimulatedTiDb old = tidbs.get(i);
        old.close();
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                SimulatedTiDb again = startTiDb(i, old.port(), old.statusPort());
                tidbs.set(i, again);
                return again;
            } catch (BindException e) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("cannot restart " + old + " on its ports", e);
                }
                Thread.sleep(100);
            }
        }
    }

    /** Backend address -> state ({@code healthy}, {@code unhealthy}...) as {@code GET /api/backends} says. */
    static Map<String, String> backendStates(TestProxy proxy) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        for (JsonNode b : JSON.readTree(proxy.api("GET", "/api/backends").body())) {
            out.put(b.path("addr").asText(), b.path("state").asText());
        }
        return out;
    }

    /** Session id -> its entry of {@code GET /api/sessions}. */
    static Map<Long, JsonNode> sessions(TestProxy proxy) throws IOException {
        Map<Long, JsonNode> out = new LinkedHashMap<>();
        for (JsonNode s : JSON.readTree(proxy.api("GET", "/api/sessions").body())) {
            out.put(s.path("id").asLong(), s);
        }
        return out;
    }

    /** Waits until the proxy has every TiDB healthy. */
    void awaitAllHealthy() {
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(100)).until(() -> {
            Map<String, String> states = backendStates(proxy);
            return tidbs.stream().allMatch(t -> "healthy".equals(states.get(t.address())));
        });
    }

    @Override
    public void close() {
        if (proxy != null) {
            proxy.close();
        }
        tidbs.forEach(SimulatedTiDb::close);
        client.close();
        etcd.close();
    }
}
