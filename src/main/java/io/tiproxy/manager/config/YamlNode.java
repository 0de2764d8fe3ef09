package io.tiproxy.manager.config;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A parsed YAML value that remembers its line, so config errors can point at it. */
sealed interface YamlNode permits YamlNode.Mapping, YamlNode.Sequence, YamlNode.Scalar {

    /** 1-based line where the value starts. */
    int line();

    /** What the value is, for messages: "a mapping", "a list", "a string"... */
    String describe();

    /** A mapping whose keys keep the line they are written on and the file's order. */
    record Mapping(Map<String, Entry> entries, int line) implements YamlNode {
        public Mapping {
            entries = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(entries));
        }

        @Override
        public String describe() {
            return "a mapping";
        }

        /** The line of the key at a dotted path below this mapping, or 0 when it is not written. */
        int lineOf(String dottedPath) {
            YamlNode node = this;
            int line = 0;
            for (String key : dottedPath.split("\\.")) {
                if (!(node instanceof Mapping mapping) || !mapping.entries.containsKey(key)) {
                    return 0;
                }
                Entry entry = mapping.entries.get(key);
                line = entry.keyLine();
                node = entry.value();
            }
            return line;
        }
    }

    /** One key's value and the line the key is on. */
    record Entry(int keyLine, YamlNode value) {
    }

    /** A list. */
    record Sequence(List<YamlNode> items, int line) implements YamlNode {
        public Sequence {
            items = List.copyOf(items);
        }

        @Override
        public String describe() {
            return "a list";
        }
    }

    /** A scalar as the YAML parser typed it; {@code text} is as written (null for a null). */
    record Scalar(Kind kind, String text, int line) implements YamlNode {
        /** The YAML type of a scalar. */
        enum Kind { STRING, INTEGER, FLOAT, BOOLEAN, NULL }

        @Override
        public String describe() {
            return switch (kind) {
                case STRING -> "the string \"" + text + "\"";
                case INTEGER -> "the integer " + text;
                case FLOAT -> "the number " + text;
                case BOOLEAN -> "the boolean " + text;
                case NULL -> "null";
            };
        }
    }
}
