package io.tiproxy.manager.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Renders config records with the file's keys, as JSON, YAML and a checksum. Secrets are masked. */
final class ConfigRenderer {
    static final String MASK = "******";

    private static final ObjectMapper JSON = new JsonMapper();
    private static final ObjectMapper CANONICAL_JSON = JsonMapper.builder()
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).build();
    private static final ObjectMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER).build());

    private ConfigRenderer() {
    }

    static String toJson(TiProxyConfig config) {
        return write(JSON, config);
    }

    static String toYaml(TiProxyConfig config) {
        return write(YAML, config);
    }

    static String checksum(TiProxyConfig config) {
        byte[] canonical = write(CANONICAL_JSON, config).getBytes(StandardCharsets.UTF_8);
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canonical));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static String write(ObjectMapper mapper, TiProxyConfig config) {
        try {
            return mapper.writeValueAsString(tree(config));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render config", e);
        }
    }

    /** A record as an ordered map of its keys to plain values (strings, numbers, booleans, lists, maps). */
    static Map<String, Object> tree(Object record) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (ConfigField field : ConfigField.of(record.getClass())) {
            out.put(field.key(), render(field, field.valueIn(record)));
        }
        return out;
    }

    private static Object render(ConfigField field, Object value) {
        return switch (field.rendering()) {
            case PLAIN -> plain(value);
            case MASKED -> ((String) value).isEmpty() ? "" : MASK;
            case COMMA_SEPARATED -> ((List<?>) value).stream().map(Object::toString).collect(Collectors.joining(","));
            case INTEGER_SECONDS -> {
                Duration duration = (Duration) value;
                yield duration.getNano() == 0 ? (Object) duration.getSeconds() : Durations.format(duration);
            }
        };
    }

    private static Object plain(Object value) {
        if (value instanceof HostPort address) {
            return address.toString();
        }
        if (value instanceof Record record) {
            return tree(record);
        }
        if (value instanceof List<?> list) {
            return list.stream().map(ConfigRenderer::plain).toList();
        }
        if (value instanceof Duration duration) {
            return Durations.format(duration);
        }
        if (value instanceof ConfigEnum constant) {
            return constant.configName();
        }
        return value;
    }
}
