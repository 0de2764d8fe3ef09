package io.tiproxy.discovery;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.Client;
import io.tiproxy.testkit.EtcdServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Registration in a real etcd: the proxy itself under {@code tiproxy}, and {@code tiproxyctl register} as a process. */
class TopologyRegistrarTest {
    private static EtcdServer etcd;
    private static Client client;
    private static EtcdTopology topology;
    private final ObjectMapper json = new ObjectMapper();

    @BeforeAll
    static void startEtcd() {
        etcd = EtcdServer.start("etcd-registrar");
        client = EtcdClients.connect(List.of(etcd.address()));
        topology = new EtcdTopology(client);
        try {
            topology.get("/warm-up"); // the client's first request also connects
        } catch (Exception e) {
            throw new IllegalStateException("etcd does not answer", e);
        }
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

    private static RegistrationSettings proxySettings(String address) {
        TopologyInfo info = new TopologyInfo("v1.3.0", "abc", "127.0.0.1", 3080, "/opt/tiproxy", 1_700_000_000L,
                Map.of("zone", "z1"));
        // a 2 s lease kept alive every ~0.7 s and rewritten every second: TiDB's 45 s / 30 s, compressed
        return new RegistrationSettings(new TopologyPaths(TopologyPaths.TIPROXY, ""), address, info,
                Duration.ofSeconds(2), Duration.ofSeconds(1), Duration.ofSeconds(2));
    }

    @Test
    void keepsItsKeysAliveBeyondTheLeaseAndDeletesThemOnClose() throws Exception {
        TopologyRegistrar registrar = new TopologyRegistrar(client, proxySettings("127.0.0.1:6000"));
        String ttlKey = "/topology/tiproxy/127.0.0.1:6000/ttl";
        String infoKey = "/topology/tiproxy/127.0.0.1:6000/info";
        assertThat(registrar.ttlKey()).isEqualTo(ttlKey);
        try {
            registrar.start();
            await().atMost(Duration.ofSeconds(5)).until(registrar::registered);
            String firstTtl = topology.get(ttlKey).orElseThrow();
            long nanos = Long.parseLong(firstTtl);
            assertThat(Math.abs(nanos / 1_000_000 - System.currentTimeMillis())).as("ttl value is Unix nanos")
                    .isLessThan(10_000);
            assertThat(topology.leaseOf(ttlKey)).isNotZero();
            assertThat(topology.leaseOf(infoKey)).as("info has no lease, as in TiDB").isZero();
            JsonNode info = json.readTree(topology.get(infoKey).orElseThrow());
            assertThat(info.path("status_port").asInt()).isEqualTo(3080);
            assertThat(info.path("version").asText()).isEqualTo("v1.3.0");
            assertThat(info.path("labels").path("zone").asText()).isEqualTo("z1");

            Thread.sleep(4500); // more than twice the lease
            assertThat(topology.get(ttlKey)).as("kept alive").isPresent();
            assertThat(topology.get(ttlKey).orElseThrow()).as("rewritten every refresh").isNotEqualTo(firstTtl);
        } finally {
            registrar.close();
        }
        assertThat(topology.get(ttlKey)).isEmpty();
        assertThat(topology.get(infoKey)).isEmpty();
    }

    @Test
    void registersAgainWhenItsLeaseIsLost() throws Exception {
        try (TopologyRegistrar registrar = new TopologyRegistrar(client, proxySettings("127.0.0.1:6001"))) {
            registrar.start();
            await().atMost(Duration.ofSeconds(5)).until(registrar::registered);
            long lease = topology.leaseOf(registrar.ttlKey());
            client.getLeaseClient().revoke(lease).get(20, TimeUnit.SECONDS); // as if etcd had expired it
            assertThat(topology.get(registrar.ttlKey())).isEmpty();
            await().atMost(Duration.ofSeconds(5)).until(() -> topology.get(registrar.ttlKey()).isPresent());
            assertThat(topology.leaseOf(registrar.ttlKey())).isNotZero().isNotEqualTo(lease);
        }
    }

    @Test
    void registerCommandKeepsABackendInTheTidbTopologyUntilSigterm() throws Exception {
        String address = "127.0.0.1:13306";
        Path log = Files.createTempFile("register", ".log");
        List<String> command = new ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), RegisterCommandMain.class.getName(),
                "--etcd", etcd.address(), "--addr", address, "--status-port", "0", "--labels", "zone=a,rack=r1"));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try (EtcdTopologySource source = new EtcdTopologySource(client, EtcdTopologySettings.defaults())) {
            source.start(backends -> { });
            await().atMost(Duration.ofSeconds(20)).until(() -> source.current().containsKey(address));
            DiscoveredBackend seen = source.current().get(address);
            assertThat(seen.labels()).isEqualTo(Map.of("zone", "a", "rack", "r1"));
            assertThat(seen.statusPort()).isZero();
            assertThat(topology.leaseOf("/topology/tidb/" + address + "/ttl")).isNotZero();

            process.destroy(); // SIGTERM
            assertThat(process.waitFor(20, TimeUnit.SECONDS)).isTrue();
            assertThat(topology.get("/topology/tidb/" + address + "/ttl")).as("deleted on SIGTERM").isEmpty();
            assertThat(topology.get("/topology/tidb/" + address + "/info")).isEmpty();
            await().atMost(Duration.ofSeconds(2)).until(() -> source.current().isEmpty());
        } finally {
            process.destroyForcibly();
            String output = Files.readString(log);
            Files.deleteIfExists(log);
            assertThat(output).contains("registering /topology/tidb/" + address + "/ttl");
        }
    }

    @Test
    void registerCommandRejectsABadAddress() {
        int exit = new picocli.CommandLine(new io.tiproxy.cli.RegisterCommand())
                .execute("--etcd", etcd.address(), "--addr", "no-port");
        assertThat(exit).isEqualTo(2);
    }
}
