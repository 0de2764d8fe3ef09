package io.tiproxy.manager.config;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Binds a {@link YamlNode} tree onto the config records: unset keys keep the defaults' values,
 * unknown keys and values of the wrong type fail with the line and key path.
 */
final class ConfigBinder {
    private final String sourceName;

    ConfigBinder(String sourceName) {
        this.sourceName = sourceName;
    }

    <T> T bindRecord(Class<T> type, YamlNode.Mapping mapping, T defaults, String path) throws ConfigException {
        List<ConfigField> fields = ConfigField.of(type);
        rejectUnknownKeys(fields, mapping, path);
        Object[] values = new Object[fields.size()];
        for (int i = 0; i < fields.size(); i++) {
            ConfigField field = fields.get(i);
            YamlNode.Entry entry = mapping.entries().get(field.key());
            Object defaultValue = field.valueIn(defaults);
            values[i] = entry == null ? defaultValue
                    : convert(field.type(), entry.value(), join(path, field.key()), entry.keyLine(), defaultValue);
        }
        return construct(type, values);
    }

    private void rejectUnknownKeys(List<ConfigField> fields, YamlNode.Mapping mapping, String path)
            throws ConfigException {
        Map<String, YamlNode.Entry> entries = mapping.entries();
        for (Map.Entry<String, YamlNode.Entry> entry : entries.entrySet()) {
            if (fields.stream().noneMatch(field -> field.key().equals(entry.getKey()))) {
                String known = fields.stream().map(ConfigField::key).collect(Collectors.joining(", "));
                throw new ConfigException(sourceName, entry.getValue().keyLine(), join(path, entry.getKey()),
                        "unknown key (known keys: " + known + ")");
            }
        }
    }

    private Object convert(Type type, YamlNode node, String path, int line, Object defaultValue)
            throws ConfigException {
        if (node instanceof YamlNode.Scalar scalar && scalar.kind() == YamlNode.Scalar.Kind.NULL) {
            return defaultValue;
        }
        if (type instanceof ParameterizedType list && list.getRawType() == List.class) {
            return convertList(list.getActualTypeArguments()[0], node, path, line);
        }
        Class<?> target = (Class<?>) type;
        if (target.isRecord() && target != HostPort.class) {
            if (node instanceof YamlNode.Mapping mapping) {
                return bindRecord(cast(target), mapping, defaultValue, path);
            }
            throw error(line, path, "expected a mapping of keys, got " + node.describe());
        }
        if (!(node instanceof YamlNode.Scalar scalar)) {
            throw error(line, path, "expected a single value, got " + node.describe());
        }
        return convertScalar(target, scalar, path, line);
    }

    @SuppressWarnings("unchecked")
    private static <T> Class<T> cast(Class<?> type) {
        return (Class<T>) type;
    }

    private List<Object> convertList(Type elementType, YamlNode node, String path, int line)
            throws ConfigException {
        List<Object> values = new ArrayList<>();
        if (node instanceof YamlNode.Sequence sequence) {
            for (YamlNode item : sequence.items()) {
                String itemPath = path + "[" + values.size() + "]";
                if (item instanceof YamlNode.Scalar scalar && scalar.kind() == YamlNode.Scalar.Kind.NULL) {
                    throw error(item.line(), itemPath, "empty list item");
                }
                values.add(convert(elementType, item, itemPath, item.line(), null));
            }
        } else if (node instanceof YamlNode.Scalar scalar && scalar.kind() == YamlNode.Scalar.Kind.STRING) {
            // TiProxy writes some lists (pd-addrs) as one comma-separated string.
            List<String> parts = Arrays.stream(scalar.text().split(",")).map(String::strip)
                    .filter(part -> !part.isEmpty()).toList();
            for (String part : parts) {
                YamlNode.Scalar item = new YamlNode.Scalar(YamlNode.Scalar.Kind.STRING, part, scalar.line());
                values.add(convert(elementType, item, path + "[" + values.size() + "]", line, null));
            }
        } else {
            throw error(line, path, "expected a list (or a comma-separated string), got " + node.describe());
        }
        return values;
    }

    private Object convertScalar(Class<?> target, YamlNode.Scalar scalar, String path, int line)
            throws ConfigException {
        String text = scalar.text();
        if (target == String.class) {
            return text;
        }
        if (target == int.class) {
            return toInt(scalar, path, line);
        }
        if (target == boolean.class) {
            if (scalar.kind() != YamlNode.Scalar.Kind.BOOLEAN) {
                throw error(line, path, "expected true or false, got " + scalar.describe());
            }
            return Boolean.parseBoolean(text);
        }
        if (target == Duration.class) {
            return toDuration(scalar, path, line);
        }
        if (target == HostPort.class) {
            return toHostPort(text, path, line);
        }
        if (target.isEnum() && ConfigEnum.class.isAssignableFrom(target)) {
            return toEnum(target, text, path, line);
        }
        throw new IllegalStateException("config type " + target + " has no binding (at " + path + ")");
    }

    private int toInt(YamlNode.Scalar scalar, String path, int line) throws ConfigException {
        if (scalar.kind() == YamlNode.Scalar.Kind.INTEGER) {
            try {
                return Integer.parseInt(scalar.text().replace("_", ""));
            } catch (NumberFormatException e) {
                throw error(line, path, scalar.text() + " is not a decimal integer from "
                        + Integer.MIN_VALUE + " to " + Integer.MAX_VALUE);
            }
        }
        throw error(line, path, "expected an integer, got " + scalar.describe());
    }

    private Duration toDuration(YamlNode.Scalar scalar, String path, int line) throws ConfigException {
        if (scalar.kind() == YamlNode.Scalar.Kind.STRING || scalar.kind() == YamlNode.Scalar.Kind.INTEGER) {
            try {
                return Durations.parse(scalar.text());
            } catch (IllegalArgumentException e) {
                throw error(line, path, e.getMessage());
            }
        }
        throw error(line, path, "expected a duration such as \"15s\" or an integer number of seconds, got "
                + scalar.describe());
    }

    private HostPort toHostPort(String text, String path, int line) throws ConfigException {
        HostPort address;
        try {
            address = HostPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw error(line, path, e.getMessage());
        }
        boolean listener = path.equals("proxy.addr") || path.equals("api.addr");
        if (address.port() == 0 && !listener) {
            // port 0 lets a listener take any free port (tests, side-by-side runs); peers need a real port
            throw error(line, path, "\"" + text + "\": port must be 1-65535");
        }
        return address;
    }

    private Object toEnum(Class<?> target, String text, String path, int line) throws ConfigException {
        for (Object constant : target.getEnumConstants()) {
            if (((ConfigEnum) constant).configName().equalsIgnoreCase(text)) {
                return constant;
            }
        }
        String allowed = Arrays.stream(target.getEnumConstants())
                .map(constant -> "\"" + ((ConfigEnum) constant).configName() + "\"")
                .collect(Collectors.joining(", "));
        throw error(line, path, "\"" + text + "\" is not one of " + allowed);
    }

    private static <T> T construct(Class<T> type, Object[] values) {
        Class<?>[] parameterTypes = Arrays.stream(type.getRecordComponents())
                .map(RecordComponent::getType).toArray(Class<?>[]::new);
        try {
            Constructor<T> constructor = type.getDeclaredConstructor(parameterTypes);
            return constructor.newInstance(values);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("cannot build " + type.getSimpleName(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot build " + type.getSimpleName(), e);
        }
    }

    private ConfigException error(int line, String path, String reason) {
        return new ConfigException(sourceName, line, path, reason);
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }
}
