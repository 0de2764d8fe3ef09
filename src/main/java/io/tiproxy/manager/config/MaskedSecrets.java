package io.tiproxy.manager.config;

import io.tiproxy.manager.config.ConfigKey.Rendering;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.List;

/**
 * Puts secrets back where a config carries their mask. The API shows secrets as {@code "******"},
 * so a config fetched, edited and sent back has the mask where the password was; that means "keep
 * the current secret", not "set the password to six stars". Works for every {@link Rendering#MASKED}
 * key, present and future.
 */
final class MaskedSecrets {
    private MaskedSecrets() {
    }

    /** {@code candidate} with each masked secret replaced by the same key's value in {@code current}. */
    static TiProxyConfig restore(TiProxyConfig current, TiProxyConfig candidate) {
        return (TiProxyConfig) restoreRecord(current, candidate);
    }

    private static Object restoreRecord(Object current, Object candidate) {
        List<ConfigField> fields = ConfigField.of(candidate.getClass());
        Object[] values = new Object[fields.size()];
        boolean changed = false;
        for (int i = 0; i < values.length; i++) {
            ConfigField field = fields.get(i);
            Object value = field.valueIn(candidate);
            Object restored = value;
            if (field.rendering() == Rendering.MASKED && ConfigRenderer.MASK.equals(value)) {
                restored = field.valueIn(current);
            } else if (value instanceof Record) {
                restored = restoreRecord(field.valueIn(current), value);
            }
            changed |= restored != value;
            values[i] = restored;
        }
        return changed ? construct(candidate.getClass(), values) : candidate;
    }

    private static Object construct(Class<?> type, Object[] values) {
        try {
            Class<?>[] parameterTypes = java.util.Arrays.stream(type.getRecordComponents())
                    .map(RecordComponent::getType).toArray(Class<?>[]::new);
            Constructor<?> constructor = type.getDeclaredConstructor(parameterTypes);
            return constructor.newInstance(values);
        } catch (NoSuchMethodException | InstantiationException | IllegalAccessException e) {
            throw new IllegalStateException("cannot rebuild " + type.getName(), e);
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("cannot rebuild " + type.getName() + ": " + e.getCause(), e.getCause());
        }
    }
}
