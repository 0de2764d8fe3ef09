package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * The {@code log.log-file} section: a rolling log file.
 *
 * @param filename   the active log file; empty means log to the console
 * @param maxSizeMb  size in MiB at which the file rolls over ({@code max-size})
 * @param maxDays    days rolled files are kept; 0 means no age limit
 * @param maxBackups rolled files kept; 0 means no count limit
 */
public record LogFileConfig(String filename, @ConfigKey("max-size") int maxSizeMb, int maxDays, int maxBackups) {

    public LogFileConfig {
        Objects.requireNonNull(filename, "filename");
    }

    /** The section's values when the file does not set them. */
    public static LogFileConfig defaults() {
        return new LogFileConfig("", 300, 3, 3);
    }

    /** True when logs go to a file rather than the console. */
    public boolean enabled() {
        return !filename.isEmpty();
    }
}
