package io.tiproxy.manager.config;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.yaml.snakeyaml.error.MarkedYAMLException;

/** Reads YAML text into {@link YamlNode}s with line numbers, refusing duplicate keys. */
final class YamlTreeReader {
    private static final YAMLFactory YAML = new YAMLFactory();

    private final String sourceName;

    YamlTreeReader(String sourceName) {
        this.sourceName = sourceName;
    }

    /** The first document's root value, or empty when the text holds no value (empty or only comments). */
    Optional<YamlNode> read(String text) throws ConfigException {
        try (JsonParser parser = YAML.createParser(text)) {
            if (parser.nextToken() == null) {
                return Optional.empty();
            }
            return Optional.of(readValue(parser, ""));
        } catch (JsonProcessingException e) {
            throw notYaml(e);
        } catch (IOException e) {
            throw new ConfigException(sourceName, 0, "", "cannot be read: " + e.getMessage(), e);
        }
    }

    /** Points at SnakeYAML's problem mark when there is one: Jackson's location is the start of the context. */
    private ConfigException notYaml(JsonProcessingException e) {
        if (e.getCause() instanceof MarkedYAMLException marked && marked.getProblemMark() != null) {
            String problem = marked.getProblem() == null ? "syntax error" : marked.getProblem();
            return new ConfigException(sourceName, marked.getProblemMark().getLine() + 1, "",
                    "not valid YAML: " + problem.strip(), e);
        }
        JsonLocation where = e.getLocation();
        return new ConfigException(sourceName, where == null ? 0 : where.getLineNr(), "",
                "not valid YAML: " + e.getOriginalMessage(), e);
    }

    private YamlNode readValue(JsonParser parser, String path) throws IOException, ConfigException {
        JsonToken token = parser.currentToken();
        int line = parser.currentTokenLocation().getLineNr();
        return switch (token) {
            case START_OBJECT -> readMapping(parser, path, line);
            case START_ARRAY -> readSequence(parser, path, line);
            case VALUE_STRING -> new YamlNode.Scalar(YamlNode.Scalar.Kind.STRING, parser.getText(), line);
            case VALUE_NUMBER_INT -> new YamlNode.Scalar(YamlNode.Scalar.Kind.INTEGER, parser.getText(), line);
            case VALUE_NUMBER_FLOAT -> new YamlNode.Scalar(YamlNode.Scalar.Kind.FLOAT, parser.getText(), line);
            case VALUE_TRUE -> new YamlNode.Scalar(YamlNode.Scalar.Kind.BOOLEAN, "true", line);
            case VALUE_FALSE -> new YamlNode.Scalar(YamlNode.Scalar.Kind.BOOLEAN, "false", line);
            case VALUE_NULL -> new YamlNode.Scalar(YamlNode.Scalar.Kind.NULL, null, line);
            default -> throw new ConfigException(sourceName, line, path, "unsupported YAML value " + token);
        };
    }

    private YamlNode.Mapping readMapping(JsonParser parser, String path, int line)
            throws IOException, ConfigException {
        Map<String, YamlNode.Entry> entries = new LinkedHashMap<>();
        while (parser.nextToken() == JsonToken.FIELD_NAME) {
            String key = parser.currentName();
            int keyLine = parser.currentTokenLocation().getLineNr();
            String keyPath = path.isEmpty() ? key : path + "." + key;
            if (entries.containsKey(key)) {
                throw new ConfigException(sourceName, keyLine, keyPath,
                        "duplicate key (first set on line " + entries.get(key).keyLine() + ")");
            }
            parser.nextToken();
            entries.put(key, new YamlNode.Entry(keyLine, readValue(parser, keyPath)));
        }
        return new YamlNode.Mapping(entries, line);
    }

    private YamlNode.Sequence readSequence(JsonParser parser, String path, int line)
            throws IOException, ConfigException {
        List<YamlNode> items = new ArrayList<>();
        while (parser.nextToken() != JsonToken.END_ARRAY) {
            items.add(readValue(parser, path + "[" + items.size() + "]"));
        }
        return new YamlNode.Sequence(items, line);
    }
}
