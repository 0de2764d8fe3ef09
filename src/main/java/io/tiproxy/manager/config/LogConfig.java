package io.tiproxy.manager.config;

import java.util.Objects;

/**
 * The {@code log} section.
 *
 * @param level   least severe level logged
 * @param encoder text lines or JSON lines
 * @param logFile rolling file output; console when its filename is empty
 */
public record LogConfig(LogLevel level, LogEncoder encoder, LogFileConfig logFile) {

    public LogConfig {
        Objects.requireNonNull(level, "level");
        Objects.requireNonNull(encoder, "encoder");
        Objects.requireNonNull(logFile, "logFile");
    }

    /** The section's values when the file does not set them: info, text, console. */
    public static LogConfig defaults() {
        return new LogConfig(LogLevel.INFO, LogEncoder.TEXT, LogFileConfig.defaults());
    }
}
