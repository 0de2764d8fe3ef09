package io.tiproxy.manager.config;

import io.tiproxy.manager.config.ConfigKey.Rendering;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One key of a config record: its name in the file and how it renders. The record component is
 * the single place a key is declared; the binder and the renderer both read it from here.
 */
record ConfigField(String key, RecordComponent component, Rendering rendering) {

    /** The keys of a config record, in declaration order. */
    static List<ConfigField> of(Class<?> recordType) {
        if (!recordType.isRecord()) {
            throw new IllegalArgumentException(recordType + " is not a record");
        }
        List<ConfigField> fields = new ArrayList<>();
        for (RecordComponent component : recordType.getRecordComponents()) {
            ConfigKey annotation = component.getAnnotation(ConfigKey.class);
            String key = annotation == null || annotation.value().isEmpty()
                    ? kebabCase(component.getName()) : annotation.value();
            Rendering rendering = annotation == null ? Rendering.PLAIN : annotation.render();
            fields.add(new ConfigField(key, component, rendering));
        }
        return fields;
    }

    /** {@code maxConnections} becomes {@code max-connections}. */
    static String kebabCase(String camelCase) {
        StringBuilder out = new StringBuilder();
        for (char c : camelCase.toCharArray()) {
            if (Character.isUpperCase(c)) {
                out.append('-').append(Character.toLowerCase(c));
            } else {
                out.append(c);
            }
        }
        return out.toString().toLowerCase(Locale.ROOT);
    }

    Type type() {
        return component.getGenericType();
    }

    /** This field's value in a record of the field's type. */
    Object valueIn(Object record) {
        try {
            return component.getAccessor().invoke(record);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalStateException("cannot read " + component, e);
        }
    }
}
