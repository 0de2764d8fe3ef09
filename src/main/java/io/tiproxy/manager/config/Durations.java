package io.tiproxy.manager.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes durations as Go (and so TiProxy) writes them: {@code "500ms"}, {@code "15s"},
 * {@code "2m"}, {@code "1h30m"}, {@code "1.5s"}; units ns, us (or µs), ms, s, m, h. A bare integer
 * ({@code "15"}) means seconds, as TiProxy's integer-second settings do.
 */
public final class Durations {
    private static final Pattern BARE_SECONDS = Pattern.compile("\\d{1,12}");
    private static final Pattern WHOLE = Pattern.compile("(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:ns|us|µs|ms|s|m|h))+");
    private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d*)?|\\.\\d+)(ns|us|µs|ms|s|m|h)");
    private static final Map<String, Long> NANOS_PER_UNIT = Map.of(
            "ns", 1L, "us", 1_000L, "µs", 1_000L, "ms", 1_000_000L,
            "s", 1_000_000_000L, "m", 60_000_000_000L, "h", 3_600_000_000_000L);
    private static final BigDecimal MAX_NANOS = BigDecimal.valueOf(Long.MAX_VALUE);

    private Durations() {
    }

    /**
     * Parses a non-negative duration.
     *
     * @throws IllegalArgumentException with a message like {@code "15x" is not a duration ...}
     */
    public static Duration parse(String text) {
        String s = text.strip();
        if (BARE_SECONDS.matcher(s).matches()) {
            return Duration.ofSeconds(Long.parseLong(s));
        }
        if (!WHOLE.matcher(s).matches()) {
            throw new IllegalArgumentException("\"" + text
                    + "\" is not a duration (write it as 500ms, 15s, 2m, 1h30m, or an integer number of seconds)");
        }
        BigDecimal nanos = BigDecimal.ZERO;
        Matcher part = PART.matcher(s);
        while (part.find()) {
            BigDecimal amount = new BigDecimal(part.group(1).endsWith(".") ? part.group(1) + "0" : part.group(1));
            nanos = nanos.add(amount.multiply(BigDecimal.valueOf(NANOS_PER_UNIT.get(part.group(2)))));
        }
        if (nanos.compareTo(MAX_NANOS) > 0) {
            throw new IllegalArgumentException("\"" + text + "\" is too long a duration");
        }
        return Duration.ofNanos(nanos.longValue());
    }

    /**
     * Formats compactly ({@code "15s"}, {@code "500ms"}, {@code "1h30m"}, {@code "1.5s"});
     * {@link #parse} reads it back.
     */
    public static String format(Duration duration) {
        if (duration.isNegative()) {
            throw new IllegalArgumentException("negative duration " + duration);
        }
        if (duration.isZero()) {
            return "0s";
        }
        long seconds = duration.getSeconds();
        int nanos = duration.getNano();
        if (seconds == 0) {
            if (nanos % 1_000_000 == 0) {
                return nanos / 1_000_000 + "ms";
            }
            return nanos % 1_000 == 0 ? nanos / 1_000 + "us" : nanos + "ns";
        }
        StringBuilder out = new StringBuilder();
        appendPart(out, seconds / 3600, "h");
        appendPart(out, seconds % 3600 / 60, "m");
        long wholeSeconds = seconds % 60;
        if (nanos != 0) {
            String fraction = String.format("%09d", nanos).replaceAll("0+$", "");
            out.append(wholeSeconds).append('.').append(fraction).append('s');
        } else {
            appendPart(out, wholeSeconds, "s");
        }
        return out.toString();
    }

    private static void appendPart(StringBuilder out, long amount, String unit) {
        if (amount != 0) {
            out.append(amount).append(unit);
        }
    }
}
