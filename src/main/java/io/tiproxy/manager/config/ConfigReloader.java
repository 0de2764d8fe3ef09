package io.tiproxy.manager.config;

import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way a new configuration reaches a running proxy, whether it came from the watched file
 * ({@link ConfigWatcher}) or from {@code PUT /api/admin/config}. The candidate has already been read
 * and validated as a whole ({@link ConfigLoader}); here it is checked against the running config and
 * applied all at once or not at all:
 * <ol>
 * <li>masked secrets ({@code "******"}) mean "keep the current secret";</li>
 * <li>a config equal to the running one changes nothing;</li>
 * <li>a change to a key that needs a restart ({@link ReloadableKeys}) refuses the whole config;</li>
 * <li>the {@link Applier} applies it; if it throws, the config is refused and the old one stays.</li>
 * </ol>
 * Offers are serialised, so two reloads never interleave. Every outcome but "unchanged" is logged
 * once, with the source and the changed keys (never secret values).
 */
public final class ConfigReloader {
    private static final Logger log = LoggerFactory.getLogger(ConfigReloader.class);

    /**
     * Makes the running components use {@code next}. It should prepare everything that can fail
     * (TLS contexts from new certificate files, ...) before it swaps anything in, and throw without
     * having changed anything when it cannot apply the config.
     */
    @FunctionalInterface
    public interface Applier {
        void apply(TiProxyConfig previous, TiProxyConfig next) throws Exception;
    }

    /** What became of an offered config. */
    public sealed interface Outcome permits Applied, Unchanged, Rejected {
        /** The config in force after the offer. */
        TiProxyConfig config();
    }

    /** The config was applied; {@code changes} lists {@code key: old -> new} (secrets masked). */
    public record Applied(TiProxyConfig config, List<String> changes) implements Outcome {
    }

    /** The config equals the running one; nothing was done. */
    public record Unchanged(TiProxyConfig config) implements Outcome {
    }

    /** The config was refused for {@code reason}; {@code config} is the running one, unchanged. */
    public record Rejected(TiProxyConfig config, String reason) implements Outcome {
    }

    private final Applier applier;
    private volatile TiProxyConfig current;

    /**
     * @param initial the config the proxy started with
     * @param applier applies later configs to the running components
     */
    public ConfigReloader(TiProxyConfig initial, Applier applier) {
        this.current = Objects.requireNonNull(initial, "initial");
        this.applier = Objects.requireNonNull(applier, "applier");
    }

    /** The config in force now. */
    public TiProxyConfig current() {
        return current;
    }

    /**
     * Applies {@code candidate} if it can be applied as a whole.
     *
     * @param source where it came from, for the log ({@code conf/proxy.yaml}, {@code api})
     */
    public synchronized Outcome offer(TiProxyConfig candidate, String source) {
        TiProxyConfig running = current;
        TiProxyConfig next = MaskedSecrets.restore(running, candidate);
        if (next.equals(running)) {
            log.debug("config from {} equals the running config; nothing to do", source);
            return new Unchanged(running);
        }
        List<String> restartNeeded = ReloadableKeys.restartNeeded(running, next);
        if (!restartNeeded.isEmpty()) {
            String reason = "needs a restart, so nothing was applied: " + String.join("; ", restartNeeded);
            log.warn("config from {} refused: {}", source, reason);
            return new Rejected(running, reason);
        }
        try {
            applier.apply(running, next);
        } catch (Exception e) {
            String reason = "cannot be applied, so the running config stays: " + e.getMessage();
            log.warn("config from {} refused: {}", source, reason, e);
            return new Rejected(running, reason);
        }
        current = next;
        List<String> changes = ReloadableKeys.changes(running, next);
        if (changes.isEmpty()) {
            changes = List.of("a secret changed"); // masked keys render alike; equals() saw the difference
        }
        log.info("config from {} applied (checksum {}): {}", source, next.checksum(), String.join("; ", changes));
        return new Applied(next, changes);
    }
}
