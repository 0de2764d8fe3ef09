package io.tiproxy.manager.config;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Tells how a config record component is named and rendered when that differs from the default:
 * by default the key is the component's name in kebab-case ({@code maxConnections} is
 * {@code max-connections}) and the value is rendered as read.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.RECORD_COMPONENT)
public @interface ConfigKey {
    /** The key in the file; empty means the component's name in kebab-case. */
    String value() default "";

    /** How the value is written back out by {@code toYaml()}/{@code toJson()}. */
    Rendering render() default Rendering.PLAIN;

    /** Ways of writing a value out. */
    enum Rendering {
        /** As read: strings, numbers, booleans, lists, durations as {@code "15s"}. */
        PLAIN,
        /** A duration as an integer number of seconds (TiProxy's integer settings), when whole. */
        INTEGER_SECONDS,
        /** A list as one comma-separated string (TiProxy's {@code pd-addrs}). */
        COMMA_SEPARATED,
        /** A secret: {@code "******"} when set, {@code ""} when not. */
        MASKED
    }
}
