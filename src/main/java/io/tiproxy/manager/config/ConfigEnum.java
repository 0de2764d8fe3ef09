package io.tiproxy.manager.config;

/** A closed set of config values: each constant knows the exact text that stands for it in the file. */
public interface ConfigEnum {
    /** The value as written in the config file, e.g. {@code "info"} or {@code "v2"}. */
    String configName();
}
