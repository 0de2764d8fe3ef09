package io.tiproxy.testkit;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.util.List;
import org.slf4j.LoggerFactory;

/** Collects what one class logs (through the test JVM's logback) while it is open. */
public final class LogCapture implements AutoCloseable {
    private final Logger logger;
    private final ListAppender<ILoggingEvent> appender = new ListAppender<>();

    private LogCapture(Class<?> source) {
        logger = ((LoggerContext) LoggerFactory.getILoggerFactory()).getLogger(source);
        appender.setContext(logger.getLoggerContext());
        appender.start();
        logger.addAppender(appender);
    }

    /** Starts collecting the events {@code source}'s logger emits. */
    public static LogCapture of(Class<?> source) {
        return new LogCapture(source);
    }

    /** The formatted messages logged at {@code level} so far. */
    public List<String> messages(Level level) {
        synchronized (appender) { // AppenderBase appends while holding the appender's lock
            return appender.list.stream().filter(e -> e.getLevel() == level)
                    .map(ILoggingEvent::getFormattedMessage).toList();
        }
    }

    @Override
    public void close() {
        logger.detachAppender(appender);
        appender.stop();
    }
}
