package io.tiproxy.discovery;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PD's key layout (TIDB-FACTS.md, "Topology in PD's etcd") and what it means, without etcd. */
class TopologyModelTest {
    private static final String TIDB_INFO = "{\"version\":\"v8.5.0\",\"git_hash\":\"abc\",\"ip\":\"10.0.1.5\","
            + "\"status_port\":10080,\"deploy_path\":\"/tidb\",\"start_timestamp\":1700000000,"
            + "\"labels\":{\"zone\":\"east\"},\"unknown_field\":1}";

    private final ObjectMapper json = new ObjectMapper();

    @Test
    void keysFollowTidbLayoutWithOptionalKeyspace() {
        TopologyPaths tidb = TopologyPaths.tidb();
        assertThat(tidb.ttlKey("10.0.1.5:4000")).isEqualTo("/topology/tidb/10.0.1.5:4000/ttl");
        assertThat(tidb.infoKey("10.0.1.5:4000")).isEqualTo("/topology/tidb/10.0.1.5:4000/info");
        assertThat(new TopologyPaths("tidb", "ks1").prefix()).isEqualTo("/keyspaces/tidb/ks1/topology/tidb/");
        assertThat(new TopologyPaths(TopologyPaths.TIPROXY, "").ttlKey("1.2.3.4:6000"))
                .isEqualTo("/topology/tiproxy/1.2.3.4:6000/ttl");
        assertThat(tidb.parse("/topology/tidb/[::1]:4000/ttl"))
                .contains(new TopologyPaths.ParsedKey("[::1]:4000", TopologyPaths.KeyKind.TTL));
        assertThat(tidb.parse("/topology/tidb/10.0.1.5:4000/other")).isEmpty();
        assertThat(tidb.parse("/topology/tiproxy/10.0.1.5:6000/ttl")).isEmpty();
        assertThat(tidb.parse("/topology/tidb/a/b/ttl")).isEmpty();
    }

    @Test
    void aMemberIsABackendOnlyWhileItsTtlKeyExists() {
        TopologyModel model = new TopologyModel(TopologyPaths.tidb(), json);
        model.put("/topology/tidb/10.0.1.5:4000/info", TIDB_INFO);
        assertThat(model.backends()).as("info alone: a crashed TiDB").isEmpty();
        model.put("/topology/tidb/10.0.1.5:4000/ttl", "1700000000000000000");
        DiscoveredBackend backend = model.backends().get("10.0.1.5:4000");
        assertThat(backend).isEqualTo(new DiscoveredBackend("10.0.1.5:4000", 10080, Map.of("zone", "east"), "v8.5.0"));
        model.remove("/topology/tidb/10.0.1.5:4000/ttl");
        assertThat(model.backends()).isEmpty();
    }

    @Test
    void badInfoOrBadAddressDoNotBreakTheRest() {
        TopologyModel model = new TopologyModel(TopologyPaths.tidb(), json);
        model.replaceAll(Map.of(
                "/topology/tidb/10.0.1.5:4000/ttl", "1",
                "/topology/tidb/10.0.1.5:4000/info", "{not json",
                "/topology/tidb/10.0.1.6:4000/ttl", "1",
                "/topology/tidb/10.0.1.6:4000/info", "{\"status_port\":99999}",
                "/topology/tidb/not-an-address/ttl", "1"));
        assertThat(model.backends()).containsOnlyKeys("10.0.1.5:4000", "10.0.1.6:4000");
        assertThat(model.backends().get("10.0.1.6:4000").statusPort()).isZero();
    }

    @Test
    void infoRoundTripsThroughTidbJson() {
        TopologyInfo info = TopologyInfo.fromJson(json, TIDB_INFO);
        assertThat(info).isEqualTo(new TopologyInfo("v8.5.0", "abc", "10.0.1.5", 10080, "/tidb", 1700000000L,
                Map.of("zone", "east")));
        assertThat(TopologyInfo.fromJson(json, info.toJson(json))).isEqualTo(info);
        assertThatThrownBy(() -> TopologyInfo.fromJson(json, "[1]")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void addressesParseLikeTheConfig() {
        assertThat(DiscoveredBackend.ofAddress("[::1]:4000").host()).isEqualTo("::1");
        assertThat(DiscoveredBackend.ofAddress("db1.example:3306").port()).isEqualTo(3306);
        for (String bad : List.of("nohost", ":4000", "::1:4000", "h:", "h:99999", "h:x")) {
            assertThatThrownBy(() -> DiscoveredBackend.ofAddress(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void staticSourceDeliversItsListAndChangedReloadsOnly() {
        StaticBackendSource source = new StaticBackendSource(List.of("10.0.0.1:4000", "10.0.0.2:4000"));
        List<Map<String, DiscoveredBackend>> deliveries = new ArrayList<>();
        source.start(deliveries::add);
        source.update(List.of("10.0.0.2:4000", "10.0.0.1:4000")); // same set
        source.update(List.of("10.0.0.2:4000"));
        assertThat(deliveries).hasSize(2);
        assertThat(deliveries.get(1)).containsOnlyKeys("10.0.0.2:4000");
        assertThat(source.connected()).isTrue();
        source.close();
        source.update(List.of());
        assertThat(deliveries).hasSize(2);
    }
}
