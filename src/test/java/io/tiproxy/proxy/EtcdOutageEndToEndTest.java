package io.tiproxy.proxy;

import io.etcd.jetcd.Client;
import io.tiproxy.balance.observer.BackendInfo;
import io.tiproxy.balance.observer.BackendObserver;
import io.tiproxy.balance.observer.BackendState;
import io.tiproxy.discovery.EtcdClients;
import io.tiproxy.discovery.EtcdConnection;
import io.tiproxy.discovery.EtcdTopology;
import io.tiproxy.discovery.RegistrationSettings;
import io.tiproxy.discovery.TopologyInfo;
import io.tiproxy.discovery.TopologyPaths;
import io.tiproxy.discovery.TopologyRegistrar;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestProxy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The outage: PD's etcd is killed for 60 s while clients work through a proxy that discovers its
 * backends there ({@code proxy.pd-addrs}); no client sees an error, and topology changes made after etcd
 * is back (same data directory and port) are picked up. Slow (the outage alone is 60 s; shorter with
 * {@code -Dtiproxy.it.etcdOutageSeconds=N}): runs with {@code -Dtiproxy.it=true}, as scripts/test.sh sets.
 *
 * <p>Backends are the shared MariaDB servers. Server 0 is registered as TiDB registers itself (plain
 * writes; its lease is long enough to outlive the test, as nobody keeps it alive); server 1 by the
 * {@code tiproxyctl register} sidecar's registrar with TiDB's 45 s lease, which the outage outlasts
 * (etcd restores leases with a fresh TTL when it restarts; the registrar must reconnect within it).
 */
@EnabledIfSystemProperty(named = "tiproxy.it", matches = "true")
class EtcdOutageEndToEndTest {
    private static final Logger log = LoggerFactory.getLogger(EtcdOutageEndToEndTest.class);
    private static final Duration OUTAGE = Duration.ofSeconds(Long.getLong("tiproxy.it.etcdOutageSeconds", 60));
    private static final String TIDB = "/topology/tidb/";
    private static final String INFO = "{\"version\":\"10.11\",\"ip\":\"127.0.0.1\",\"status_port\":0,\"labels\":{}}";

    static EtcdServer etcd;
    static Client client;
    static EtcdTopology topology;

    @BeforeAll
    static void start() throws Exception {
        etcd = EtcdServer.start("outage");
        client = EtcdClients.connect(List.of(etcd.address()));
        topology = new EtcdTopology(client);
        topology.get("/warm-up"); // the client's first request also connects
    }

    @AfterAll
    static void stop() {
        client.close();
        etcd.close();
    }

    @Test
    void clientsSeeNoErrorWhileEtcdIsDownAndChangesAfterItReturnsArePickedUp() throws Exception {
        MariaDbCluster shared = MariaDbCluster.shared();
        MariaDbServer s0 = shared.server(0);
        MariaDbServer s1 = shared.server(1);
        MariaDbServer s2 = shared.server(2);
        topology.registerTidb(TIDB, s0.address(), INFO, 600);
        RegistrationSettings sidecar = RegistrationSettings.of(TopologyPaths.tidb(), s1.address(),
                new TopologyInfo("10.11", "", "127.0.0.1", 0, "", System.currentTimeMillis() / 1000, Map.of()));
        try (EtcdConnection sidecarEtcd = EtcdConnection.connect(List.of(etcd.address()));
             TopologyRegistrar registrar = new TopologyRegistrar(sidecarEtcd, sidecar);
             TestProxy proxy = TestProxy.start(List.of(), "  pd-addrs: \"" + etcd.address() + "\"\n",
                     TestProxy.SERVICE_ACCOUNT + "health-check:\n  interval: \"1s\"\n")) {
            registrar.start();
            BackendObserver observer = proxy.server().observer();
            await().atMost(Duration.ofSeconds(20)).until(() -> healthy(observer, s0) && healthy(observer, s1));
            String proxyTtl = "/topology/tiproxy/127.0.0.1:" + proxy.port() + "/ttl";
            await().atMost(Duration.ofSeconds(15)).until(() -> topology.get(proxyTtl).isPresent());

            StatefulSessions sessions = StatefulSessions.start(proxy, 4, Duration.ofMillis(50));
            NewSessions newSessions = NewSessions.start(proxy, Duration.ofMillis(250));
            try {
                sessions.awaitProgress(20, Duration.ofSeconds(30));

                etcd.kill9();
                long down = System.nanoTime();
                await().atMost(Duration.ofSeconds(15)).until(() -> !observer.discoveryConnected());
                assertThat(observer.discoveryError()).isPresent();
                TestProxy.HttpResult health = proxy.api("GET", "/api/debug/health");
                assertThat(health.status()).as("an etcd outage alone keeps the proxy healthy").isEqualTo(200);
                assertThat(health.body()).contains("\"discovery\":\"unreachable: ");
                long roundsAtKill = sessions.rounds();
                int newAtKill = newSessions.completed();
                while (System.nanoTime() - down < OUTAGE.toNanos()) {
                    assertThat(healthy(observer, s0) && healthy(observer, s1))
                            .as("routing goes on with the last known topology").isTrue();
                    assertThat(sessions.errors()).isEmpty();
                    assertThat(newSessions.errors()).isEmpty();
                    Thread.sleep(500);
                }
                assertThat(sessions.rounds() - roundsAtKill).as("rounds while etcd was down").isGreaterThan(100);
                assertThat(newSessions.completed() - newAtKill).as("new sessions while etcd was down").isGreaterThan(10);

                etcd.start(); // same data directory and port
                long up = System.nanoTime();
                // the test's own writes go through a fresh client: the old one may still be in gRPC's back-off
                client.close();
                client = EtcdClients.connect(List.of(etcd.address()));
                topology = new EtcdTopology(client);
                // EtcdConnection renews its client every 10 s of outage: jetcd's own reconnect back-off could
                // otherwise wait up to a minute more
                await().atMost(Duration.ofSeconds(30)).until(observer::discoveryConnected);
                log.info("discovery reconnected {} ms after etcd was back", (System.nanoTime() - up) / 1_000_000);
                assertThat(proxy.api("GET", "/api/debug/health").body()).contains("\"discovery\":\"connected\"");

                // changes made now are picked up: a new backend registers ...
                topology.registerTidb(TIDB, s2.address(), INFO, 600);
                await().atMost(Duration.ofSeconds(10)).until(() -> healthy(observer, s2));
                await().atMost(Duration.ofSeconds(30)).until(() -> newSessions.lastServerId() == s2.serverId());
                // ... and one's ttl goes: it takes no new session and its sessions move away
                topology.delete(TIDB + s0.address() + "/ttl");
                await().atMost(Duration.ofSeconds(10)).until(() -> state(observer, s0) == BackendState.REMOVED);
                int removedAt = newSessions.completed();
                await().atMost(Duration.ofSeconds(20)).until(() -> proxy.server().router().sessionCount(s0.address()) == 0
                        && !sessions.serverIds().contains((long) s0.serverId()));
                await().atMost(Duration.ofSeconds(30)).until(() -> newSessions.completed() > removedAt + 5);
                assertThat(newSessions.serverIdsSince(removedAt)).doesNotContain((long) s0.serverId());
                sessions.awaitProgress(20, Duration.ofSeconds(30));

                // the sidecar and the proxy itself keep their registrations up again
                await().atMost(Duration.ofSeconds(60)).until(() -> registrar.registered() && healthy(observer, s1)
                        && topology.get(TIDB + s1.address() + "/ttl").isPresent() && topology.get(proxyTtl).isPresent());
            } finally {
                sessions.stop();
                newSessions.stop();
            }
            assertThat(sessions.errors()).as("errors of long-lived sessions").isEmpty();
            assertThat(newSessions.errors()).as("errors of new sessions").isEmpty();
        } finally {
            if (!etcd.isRunning()) {
                etcd.start();
            }
            topology.deleteAll();
        }
    }

    static BackendState state(BackendObserver observer, MariaDbServer s) {
        BackendInfo info = observer.snapshot().get(s.address());
        return info == null ? null : info.state();
    }

    static boolean healthy(BackendObserver observer, MariaDbServer s) {
        return state(observer, s) == BackendState.HEALTHY;
    }
}
