package io.tiproxy.discovery;

import io.etcd.jetcd.Client;
import io.tiproxy.balance.observer.BackendEvent;
import io.tiproxy.balance.observer.BackendHealthChecker;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendObserver;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.balance.observer.ObserverSettings;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Discovery from a real etcd laid out as PD's TiDB topology, driving a real observer against real MariaDB. */
class EtcdTopologySourceTest {
    /** {@code -Dtiproxy.it.etcdOutageSeconds=60} for the full outage; 10 s by default. */
    private static final long OUTAGE_SECONDS = Long.getLong("tiproxy.it.etcdOutageSeconds", 10);
    private static final String PREFIX = "/topology/tidb/";
    private static final ObserverSettings CHECKS = new ObserverSettings(Duration.ofMillis(300), Duration.ofSeconds(1),
            1, 1, TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD);

    private static EtcdServer etcd;
    private static Client client;
    private static EtcdTopology topology;
    private static String backendA;
    private static String backendB;

    private final List<BackendEvent> events = new CopyOnWriteArrayList<>();
    private EtcdTopologySource source;
    private BackendObserver observer;

    @BeforeAll
    static void startEtcd() {
        etcd = EtcdServer.start("etcd-source");
        client = EtcdClients.connect(List.of(etcd.address()));
        topology = new EtcdTopology(client);
        try {
            topology.get("/warm-up"); // the client's first request also connects
        } catch (Exception e) {
            throw new IllegalStateException("etcd does not answer", e);
        }
        backendA = MariaDbCluster.shared().server(0).address();
        backendB = MariaDbCluster.shared().server(1).address();
    }

    @AfterAll
    static void stopEtcd() {
        if (client != null) {
            client.close();
        }
        if (etcd != null) {
            etcd.close();
        }
    }

    @BeforeEach
    void cleanTopology() throws Exception {
        topology.deleteAll();
    }

    @AfterEach
    void closeObserver() {
        if (observer != null) {
            observer.close();
        }
    }

    private void startObserver(EtcdTopologySettings settings) {
        source = new EtcdTopologySource(client, settings);
        observer = new BackendObserver(source, new BackendHealthChecker(CHECKS), CHECKS);
        observer.subscribe(events::add);
        observer.start();
    }

    private boolean lastIs(String address, BackendState state) {
        BackendInfo info = observer.snapshot().get(address);
        return info != null && info.state() == state;
    }

    private List<BackendState> states(String address) {
        return events.stream().filter(e -> e.current().address().equals(address)).map(e -> e.current().state()).toList();
    }

    @Test
    void registeredBackendIsHealthyWithinTwoSecondsAndRemovedWhenItsTtlKeyGoes() throws Exception {
        // a full read only every 30 s: whatever happens within seconds here comes from the watch
        startObserver(EtcdTopologySettings.defaults().withFullReadInterval(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(5)).until(source::watching);

        topology.registerTidb(PREFIX, backendA, "{\"version\":\"10.11\",\"status_port\":0,\"labels\":{\"zone\":\"z1\"}}", 45);
        long registered = System.nanoTime(); // from the committed write: etcd's own fsync latency is not ours
        await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendA, BackendState.HEALTHY));
        assertThat((System.nanoTime() - registered) / 1_000_000).isLessThan(2000);
        assertThat(observer.snapshot().get(backendA).labels()).isEqualTo(Map.of("zone", "z1"));
        assertThat(source.current().get(backendA).version()).isEqualTo("10.11");

        topology.delete(PREFIX + backendA + "/ttl");
        long deleted = System.nanoTime();
        await().atMost(Duration.ofSeconds(1)).until(() -> lastIs(backendA, BackendState.REMOVED));
        assertThat((System.nanoTime() - deleted) / 1_000_000).as("REMOVED after the ttl key is deleted").isLessThan(1000);
        assertThat(topology.get(PREFIX + backendA + "/info")).as("info alone keeps nothing alive").isPresent();
        assertThat(states(backendA)).containsExactly(BackendState.UNHEALTHY, BackendState.HEALTHY, BackendState.REMOVED);
    }

    @Test
    void backendWhoseLeaseExpiresIsRemoved() throws Exception {
        startObserver(EtcdTopologySettings.defaults());
        topology.registerTidb(PREFIX, backendA, "{}", 2); // a crashed TiDB: nobody keeps the lease alive
        await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendA, BackendState.HEALTHY));
        await().atMost(Duration.ofSeconds(8)).until(() -> lastIs(backendA, BackendState.REMOVED));
        assertThat(topology.get(PREFIX + backendA + "/ttl")).isEmpty();
        assertThat(states(backendA)).endsWith(BackendState.HEALTHY, BackendState.REMOVED);
    }

    @Test
    void keepsTheTopologyWhileEtcdIsDownAndPicksUpChangesAfterItReturns() throws Exception {
        startObserver(EtcdTopologySettings.defaults().withFullReadInterval(Duration.ofSeconds(1)));
        topology.registerTidb(PREFIX, backendA, "{}", 45);
        await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendA, BackendState.HEALTHY));
        assertThat(source.connected()).isTrue();

        etcd.kill9();
        long down = System.nanoTime();
        await().atMost(Duration.ofSeconds(6)).until(() -> !source.connected());
        assertThat(source.lastError()).isPresent();
        assertThat(observer.discoveryConnected()).isFalse();
        // a backend registers while etcd is down: its registrar retries until etcd is back
        RegistrationSettings lateSettings = new RegistrationSettings(TopologyPaths.tidb(), backendB,
                new TopologyInfo("10.11", "", "127.0.0.1", 0, "", 0, Map.of()), Duration.ofSeconds(45),
                Duration.ofSeconds(30), Duration.ofSeconds(1));
        try (TopologyRegistrar late = new TopologyRegistrar(client, lateSettings)) {
            late.start();
            while (System.nanoTime() - down < Duration.ofSeconds(OUTAGE_SECONDS).toNanos()) {
                assertThat(observer.snapshot().get(backendA).state()).as("routing goes on with the last topology")
                        .isEqualTo(BackendState.HEALTHY);
                assertThat(late.registered()).isFalse();
                Thread.sleep(200);
            }
            etcd.start();
            await().atMost(Duration.ofSeconds(10)).until(() -> source.connected() && source.watching());
            await().atMost(Duration.ofSeconds(5)).until(() -> lastIs(backendB, BackendState.HEALTHY));
            assertThat(late.registered()).isTrue();

            topology.delete(PREFIX + backendB + "/ttl"); // and the new watch sees the next change at once
            long added = System.nanoTime();
            await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendB, BackendState.REMOVED));
            assertThat((System.nanoTime() - added) / 1_000_000).isLessThan(2000);
        }
        assertThat(states(backendA)).as("A never left").containsExactly(BackendState.UNHEALTHY, BackendState.HEALTHY);
    }

    @Test
    void keyspaceTopologyIsSeparate() throws Exception {
        startObserver(EtcdTopologySettings.defaults().withKeyspace("ks1"));
        topology.registerTidb(PREFIX, backendA, "{}", 45);
        topology.registerTidb("/keyspaces/tidb/ks1/topology/tidb/", backendB, "{}", 45);
        await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendB, BackendState.HEALTHY));
        assertThat(observer.snapshot()).containsOnlyKeys(backendB);
    }

    @Test
    void memberWithBrokenInfoIsStillABackend() throws Exception {
        startObserver(EtcdTopologySettings.defaults());
        topology.registerTidb(PREFIX, backendA, "not json", 45);
        topology.put(PREFIX + "127.0.0.1:1/info", "{}", 0); // info without ttl: a crashed TiDB, not a backend
        await().atMost(Duration.ofSeconds(2)).until(() -> lastIs(backendA, BackendState.HEALTHY));
        assertThat(observer.snapshot()).containsOnlyKeys(backendA);
        assertThat(observer.snapshot().get(backendA).statusPort()).isZero();
    }
}
