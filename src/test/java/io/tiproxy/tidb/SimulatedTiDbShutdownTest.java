package io.tiproxy.tidb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.etcd.jetcd.ByteSequence;
import io.etcd.jetcd.Client;
import io.etcd.jetcd.KeyValue;
import io.etcd.jetcd.options.GetOption;
import io.etcd.jetcd.options.LeaseOption;
import io.tiproxy.testkit.EtcdServer;
import io.tiproxy.testkit.MariaDbCluster;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The simulation itself follows TIDB-FACTS: its topology keys in a real etcd ("Topology in PD's etcd") and
 * its graceful shutdown ("Status port"), so that tests of the proxy against it mean something.
 */
class SimulatedTiDbShutdownTest {
    static final ObjectMapper JSON = new ObjectMapper();

    static Map<String, KeyValue> keys(Client client, String prefix) throws Exception {
        Map<String, KeyValue> out = new TreeMap<>();
        for (KeyValue kv : client.getKVClient().get(ByteSequence.from(prefix, StandardCharsets.UTF_8),
                GetOption.builder().isPrefix(true).build()).get(30, TimeUnit.SECONDS).getKvs()) {
            out.put(kv.getKey().toString(StandardCharsets.UTF_8), kv);
        }
        return out;
    }

    static int status(HttpClient http, SimulatedTiDb tidb) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + tidb.statusPort() + "/status")).build(),
                HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    /** Reads the first bytes of the greeting: the SQL port accepts. */
    static int greetingProtocol(SimulatedTiDb tidb) throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", tidb.port()), 2000);
            s.setSoTimeout(5000);
            InputStream in = s.getInputStream();
            in.readNBytes(4); // packet header
            return in.read();
        }
    }

    @Test
    void registersInEtcdAndShutsDownGracefully() throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        try (EtcdServer etcd = EtcdServer.start("sim-tidb");
             Client client = Client.builder().endpoints(etcd.endpoint()).build();
             SimulatedTiDb tidb = new SimulatedTiDb("sim", MariaDbCluster.shared().server(0))) {
            tidb.registerIn(client);
            String prefix = "/topology/tidb/127.0.0.1:" + tidb.port() + "/";

            Map<String, KeyValue> kvs = keys(client, prefix);
            assertThat(kvs).containsOnlyKeys(prefix + "info", prefix + "ttl");
            // info: no lease; the SQL port only in the key
            JsonNode info = JSON.readTree(kvs.get(prefix + "info").getValue().toString(StandardCharsets.UTF_8));
            assertThat(kvs.get(prefix + "info").getLease()).isZero();
            assertThat(info.path("version").asText()).isEqualTo(SimulatedTiDb.RELEASE);
            assertThat(info.path("ip").asText()).isEqualTo("127.0.0.1");
            assertThat(info.path("status_port").asInt()).isEqualTo(tidb.statusPort());
            assertThat(info.path("start_timestamp").asLong()).isCloseTo(Instant.now().getEpochSecond(), within(60L));
            assertThat(info.has("git_hash")).isTrue();
            assertThat(info.has("deploy_path")).isTrue();
            assertThat(info.path("labels").isObject()).isTrue();
            assertThat(info.has("listening_port")).isFalse();
            // ttl: Unix nanoseconds, under a 45 s lease
            KeyValue ttl = kvs.get(prefix + "ttl");
            long nanos = Long.parseLong(ttl.getValue().toString(StandardCharsets.UTF_8));
            assertThat(nanos / 1_000_000_000L).isCloseTo(Instant.now().getEpochSecond(), within(60L));
            assertThat(ttl.getLease()).isNotZero();
            long granted = client.getLeaseClient().timeToLive(ttl.getLease(), LeaseOption.DEFAULT)
                    .get(30, TimeUnit.SECONDS).getGrantedTTL();
            assertThat(granted).isEqualTo(45);

            assertThat(status(http, tidb)).isEqualTo(200);
            tidb.beginGracefulShutdown(Duration.ofSeconds(3));
            // at once: /status 500 with an empty body, while the SQL port still greets and the keys stay
            HttpResponse<String> during = http.send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + tidb.statusPort() + "/status")).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(during.statusCode()).isEqualTo(500);
            assertThat(during.body()).isEmpty();
            assertThat(greetingProtocol(tidb)).isEqualTo(10);
            assertThat(keys(client, prefix)).hasSize(2);
            assertThat(tidb.awaitStopped(Duration.ofSeconds(30))).isTrue();
            // after the wait: SQL port closed, keys gone
            assertThatThrownBy(() -> greetingProtocol(tidb)).isInstanceOf(ConnectException.class);
            assertThat(keys(client, prefix)).isEmpty();
            assertThat(keys(client, "/topology/tidb/")).isEmpty();
            // and the lease is revoked (etcd answers TTL -1 for a lease it does not have)
            assertThat(client.getLeaseClient().timeToLive(ttl.getLease(), LeaseOption.DEFAULT)
                    .get(30, TimeUnit.SECONDS).getTTL()).isEqualTo(-1);
        }
    }
}
