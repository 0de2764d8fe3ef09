package io.tiproxy.manager.logging;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.PatternLayout;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.RollingFileAppender;
import io.tiproxy.manager.config.LogConfig;
import io.tiproxy.manager.config.LogEncoder;
import io.tiproxy.manager.config.LogFileConfig;
import io.tiproxy.manager.config.LogLevel;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs on a private LoggerContext so that the JVM's real logging is left alone. */
class LoggingConfiguratorTest {
    private final LoggerContext context = new LoggerContext();
    private final LoggingConfigurator configurator = new LoggingConfigurator(context);
    private final Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);

    @TempDir
    Path tempDir;

    @BeforeEach
    void giveContextAnMdc() {
        context.setMDCAdapter(new LogbackMDCAdapter());
    }

    @AfterEach
    void stopContext() {
        context.stop();
    }

    private static LogConfig config(LogLevel level, LogEncoder encoder, String filename) {
        return new LogConfig(level, encoder, new LogFileConfig(filename, 1, 3, 3));
    }

    private List<Appender<ILoggingEvent>> rootAppenders() {
        List<Appender<ILoggingEvent>> appenders = new ArrayList<>();
        root.iteratorForAppenders().forEachRemaining(appenders::add);
        return appenders;
    }

    @Test
    void switchesTheRootLevelWithoutReplacingTheAppender() {
        configurator.apply(config(LogLevel.INFO, LogEncoder.TEXT, ""));
        assertThat(root.getLevel()).isEqualTo(Level.INFO);
        Appender<ILoggingEvent> console = rootAppenders().get(0);
        assertThat(console).isInstanceOf(ConsoleAppender.class);
        assertThat(context.getLogger("io.tiproxy.x").isDebugEnabled()).isFalse();

        configurator.apply(config(LogLevel.DEBUG, LogEncoder.TEXT, ""));
        assertThat(root.getLevel()).isEqualTo(Level.DEBUG);
        assertThat(context.getLogger("io.tiproxy.x").isDebugEnabled()).isTrue();
        assertThat(rootAppenders()).containsExactly(console);

        configurator.apply(config(LogLevel.ERROR, LogEncoder.TEXT, ""));
        assertThat(context.getLogger("io.tiproxy.x").isWarnEnabled()).isFalse();
    }

    @Test
    void namedLoggerLevelsSurviveARootChange() {
        context.getLogger("io.netty").setLevel(Level.WARN);
        configurator.apply(config(LogLevel.TRACE, LogEncoder.TEXT, ""));
        assertThat(context.getLogger("io.netty.channel").isInfoEnabled()).isFalse();
        assertThat(context.getLogger("io.tiproxy").isTraceEnabled()).isTrue();
    }

    @Test
    void jsonEncoderReplacesTheTextAppender() {
        configurator.apply(config(LogLevel.INFO, LogEncoder.TEXT, ""));
        Appender<ILoggingEvent> text = rootAppenders().get(0);

        configurator.apply(config(LogLevel.INFO, LogEncoder.JSON, ""));
        List<Appender<ILoggingEvent>> appenders = rootAppenders();
        assertThat(appenders).hasSize(1);
        OutputStreamAppender<ILoggingEvent> json = (OutputStreamAppender<ILoggingEvent>) appenders.get(0);
        assertThat(json.getEncoder()).isInstanceOf(JsonEncoder.class);
        assertThat(text.isStarted()).isFalse();
    }

    @Test
    void logFileGetsARollingAppenderAndReceivesEvents() throws Exception {
        Path file = tempDir.resolve("tiproxy.log");
        configurator.apply(config(LogLevel.INFO, LogEncoder.JSON, file.toString()));
        assertThat(rootAppenders()).singleElement().isInstanceOf(RollingFileAppender.class);

        context.getLogger("io.tiproxy.test").info("hello file");
        configurator.apply(config(LogLevel.INFO, LogEncoder.TEXT, ""));

        assertThat(Files.readString(file)).contains("\"message\":\"hello file\"");
        assertThat(rootAppenders()).singleElement().isInstanceOf(ConsoleAppender.class);
    }

    @Test
    void textPatternShowsSessionContextOnlyWhenSet() {
        PatternLayout layout = new PatternLayout();
        layout.setContext(context);
        layout.setPattern(LoggingConfigurator.TEXT_PATTERN);
        layout.start();
        Logger logger = context.getLogger("io.tiproxy.proxy.Session");

        LoggingEvent withContext = new LoggingEvent("fqcn", logger, Level.INFO, "migrated", null, null);
        withContext.setMDCPropertyMap(Map.of("conn", "7", "client", "10.0.0.1:5555", "backend", "127.0.0.1:13307"));
        assertThat(layout.doLayout(withContext))
                .contains(" INFO  [", "] io.tiproxy.proxy.Session - migrated conn=7 client=10.0.0.1:5555 "
                        + "backend=127.0.0.1:13307");

        LoggingEvent plain = new LoggingEvent("fqcn", logger, Level.WARN, "started", null, null);
        plain.setMDCPropertyMap(Map.of());
        assertThat(layout.doLayout(plain)).endsWith(" - started" + System.lineSeparator());
    }

    @Test
    void shippedLogbackXmlUsesTheSamePattern() throws Exception {
        try (InputStream xml = getClass().getResourceAsStream("/logback.xml")) {
            assertThat(xml).isNotNull();
            String text = new String(xml.readAllBytes(), StandardCharsets.UTF_8);
            assertThat(text).contains("<pattern>" + LoggingConfigurator.TEXT_PATTERN.replace("%n", "%n</pattern>"))
                    .contains("<logger name=\"io.netty\" level=\"WARN\"/>", "<root level=\"INFO\">");
        }
    }

    @Test
    void findsTheSlf4jBoundContext() {
        assertThat(LoggingConfigurator.forSlf4j()).isNotNull();
    }
}
