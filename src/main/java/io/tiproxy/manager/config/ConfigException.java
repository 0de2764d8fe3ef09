package io.tiproxy.manager.config;

/**
 * A config file that cannot be used. The message names the file, the line and the key path, as in
 * {@code conf/proxy.yaml:7: proxy.max-conections: unknown key (known keys: addr, ...)}.
 */
public final class ConfigException extends Exception {
    private final String sourceName;
    private final int line;
    private final String keyPath;
    private final String reason;

    /**
     * @param sourceName the file (or other source) the text came from
     * @param line       1-based line, or 0 when no line applies
     * @param keyPath    dotted key path such as {@code proxy.addr}, or empty
     * @param reason     what is wrong
     */
    public ConfigException(String sourceName, int line, String keyPath, String reason) {
        this(sourceName, line, keyPath, reason, null);
    }

    public ConfigException(String sourceName, int line, String keyPath, String reason, Throwable cause) {
        super(format(sourceName, line, keyPath, reason), cause);
        this.sourceName = sourceName;
        this.line = line;
        this.keyPath = keyPath;
        this.reason = reason;
    }

    private static String format(String sourceName, int line, String keyPath, String reason) {
        StringBuilder message = new StringBuilder(sourceName);
        if (line > 0) {
            message.append(':').append(line);
        }
        message.append(": ");
        if (!keyPath.isEmpty()) {
            message.append(keyPath).append(": ");
        }
        return message.append(reason).toString();
    }

    public String sourceName() {
        return sourceName;
    }

    /** 1-based line of the offending key or value, or 0 when unknown. */
    public int line() {
        return line;
    }

    /** Dotted path of the offending key ({@code security.server-tls.cert}), or empty. */
    public String keyPath() {
        return keyPath;
    }

    /** What is wrong, without the location. */
    public String reason() {
        return reason;
    }
}
