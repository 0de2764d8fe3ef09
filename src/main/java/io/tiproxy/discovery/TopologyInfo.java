package io.tiproxy.discovery;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The {@code info} value of a topology member, in TiDB's JSON shape: {@code version},
 * {@code git_hash}, {@code ip}, {@code status_port}, {@code deploy_path}, {@code start_timestamp}
 * (Unix seconds), {@code labels}. The SQL port is not in it (only in the key). Unknown fields are
 * ignored when reading.
 */
public record TopologyInfo(String version, String gitHash, String ip, int statusPort, String deployPath,
                           long startTimestamp, Map<String, String> labels) {

    public TopologyInfo {
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(gitHash, "gitHash");
        Objects.requireNonNull(ip, "ip");
        Objects.requireNonNull(deployPath, "deployPath");
        labels = Map.copyOf(labels);
    }

    /** Reads TiDB's JSON; throws {@link IllegalArgumentException} when it is not a JSON object. */
    public static TopologyInfo fromJson(ObjectMapper json, String text) {
        JsonNode root;
        try {
            root = json.readTree(text);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("info is not JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("info is not a JSON object");
        }
        Map<String, String> labels = new LinkedHashMap<>();
        JsonNode labelNode = root.path("labels");
        if (labelNode.isObject()) {
            labelNode.properties().forEach(e -> labels.put(e.getKey(), e.getValue().asText()));
        }
        return new TopologyInfo(root.path("version").asText(""), root.path("git_hash").asText(""),
                root.path("ip").asText(""), root.path("status_port").asInt(0), root.path("deploy_path").asText(""),
                root.path("start_timestamp").asLong(0), labels);
    }

    /** TiDB's JSON for this info. */
    public String toJson(ObjectMapper json) {
        ObjectNode root = json.createObjectNode();
        root.put("version", version);
        root.put("git_hash", gitHash);
        root.put("ip", ip);
        root.put("status_port", statusPort);
        root.put("deploy_path", deployPath);
        root.put("start_timestamp", startTimestamp);
        ObjectNode labelNode = root.putObject("labels");
        labels.forEach(labelNode::put);
        try {
            return json.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write topology info", e);
        }
    }
}
