package io.tiproxy.manager.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.encoder.Encoder;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.util.FileSize;
import io.tiproxy.manager.config.LogConfig;
import io.tiproxy.manager.config.LogFileConfig;
import io.tiproxy.manager.config.LogLevel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.ILoggerFactory;
import org.slf4j.LoggerFactory;

/**
 * Applies the {@code log} section to logback at run time: the root level, and one root appender
 * (console, or a rolling file) with a text or JSON encoder. Applying again with only a new level
 * just changes the level; otherwise the new appender is attached before the old one is stopped, so
 * no event is lost. Levels set on named loggers (netty at WARN in {@code logback.xml}) stay.
 *
 * <p>The rolling file rolls daily and at {@code max-size} MiB; {@code max-days} is logback's
 * {@code maxHistory}. Logback has no count limit, so {@code max-backups} becomes a total size cap
 * of {@code max-size * max-backups} MiB over the rolled files.
 */
public final class LoggingConfigurator {
    /** The text layout: time, level, thread, logger, message, then conn/client/backend from the MDC when set. */
    public static final String TEXT_PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSXXX} %-5level [%thread] %logger{36} - %msg"
            + "%replace( conn=%X{conn}){'^ conn=$', ''}"
            + "%replace( client=%X{client}){'^ client=$', ''}"
            + "%replace( backend=%X{backend}){'^ backend=$', ''}%n";
    static final String APPENDER_NAME = "TIPROXY";
    private static final long MIB = 1024L * 1024L;

    private final LoggerContext context;
    private LogConfig applied;

    /** Configures the given logback context (tests pass a fresh one). */
    public LoggingConfigurator(LoggerContext context) {
        this.context = context;
    }

    /**
     * A configurator for the logback context SLF4J is bound to.
     *
     * @throws IllegalStateException when SLF4J is bound to something other than logback
     */
    public static LoggingConfigurator forSlf4j() {
        ILoggerFactory factory = LoggerFactory.getILoggerFactory();
        if (!(factory instanceof LoggerContext loggerContext)) {
            throw new IllegalStateException("SLF4J is bound to " + factory.getClass().getName() + ", not logback");
        }
        return new LoggingConfigurator(loggerContext);
    }

    /** Makes the context log as {@code config} says. Safe to call from any thread, again on every reload. */
    public synchronized void apply(LogConfig config) {
        Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        root.setLevel(levelOf(config.level()));
        boolean sameOutput = applied != null && applied.encoder() == config.encoder()
                && applied.logFile().equals(config.logFile());
        if (!sameOutput) {
            replaceAppenders(root, config);
        }
        applied = config;
    }

    static Level levelOf(LogLevel level) {
        return switch (level) {
            case TRACE -> Level.TRACE;
            case DEBUG -> Level.DEBUG;
            case INFO -> Level.INFO;
            case WARN -> Level.WARN;
            case ERROR -> Level.ERROR;
        };
    }

    private void replaceAppenders(Logger root, LogConfig config) {
        List<Appender<ILoggingEvent>> old = new ArrayList<>();
        root.iteratorForAppenders().forEachRemaining(old::add);
        root.addAppender(newAppender(config));
        for (Appender<ILoggingEvent> appender : old) {
            root.detachAppender(appender);
            appender.stop();
        }
    }

    private Appender<ILoggingEvent> newAppender(LogConfig config) {
        Encoder<ILoggingEvent> encoder = newEncoder(config);
        OutputStreamAppender<ILoggingEvent> appender = config.logFile().enabled()
                ? newFileAppender(config.logFile()) : new ConsoleAppender<>();
        appender.setContext(context);
        appender.setName(APPENDER_NAME);
        appender.setEncoder(encoder);
        appender.start();
        return appender;
    }

    private Encoder<ILoggingEvent> newEncoder(LogConfig config) {
        Encoder<ILoggingEvent> encoder = switch (config.encoder()) {
            case TEXT -> {
                PatternLayoutEncoder text = new PatternLayoutEncoder();
                text.setPattern(TEXT_PATTERN);
                text.setCharset(StandardCharsets.UTF_8);
                yield text;
            }
            case JSON -> new JsonEncoder();
        };
        encoder.setContext(context);
        encoder.start();
        return encoder;
    }

    private RollingFileAppender<ILoggingEvent> newFileAppender(LogFileConfig file) {
        RollingFileAppender<ILoggingEvent> appender = new RollingFileAppender<>();
        appender.setContext(context);
        appender.setFile(file.filename());
        SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
        policy.setContext(context);
        policy.setParent(appender);
        policy.setFileNamePattern(file.filename() + ".%d{yyyy-MM-dd}.%i");
        policy.setMaxFileSize(new FileSize(file.maxSizeMb() * MIB));
        policy.setMaxHistory(file.maxDays());
        if (file.maxBackups() > 0) {
            policy.setTotalSizeCap(new FileSize(file.maxSizeMb() * MIB * file.maxBackups()));
        }
        policy.start();
        appender.setRollingPolicy(policy);
        return appender;
    }
}
