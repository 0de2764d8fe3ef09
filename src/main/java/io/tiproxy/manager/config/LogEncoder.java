package io.tiproxy.manager.config;

/** {@code log.encoder}: how each log event is written. */
public enum LogEncoder implements ConfigEnum {
    /** One human-readable line per event. */
    TEXT,
    /** One JSON object per line. */
    JSON;

    @Override
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
