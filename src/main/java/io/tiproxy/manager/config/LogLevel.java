package io.tiproxy.manager.config;

/** {@code log.level}: the least severe level that is logged. */
public enum LogLevel implements ConfigEnum {
    TRACE, DEBUG, INFO, WARN, ERROR;

    @Override
    public String configName() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
