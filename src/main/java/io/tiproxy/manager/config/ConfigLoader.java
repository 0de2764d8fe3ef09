package io.tiproxy.manager.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * Reads {@code proxy.yaml} into a {@link TiProxyConfig}: YAML with kebab-case keys, every key
 * optional (an empty file gives {@link TiProxyConfig#defaults()}), unknown keys refused. Any problem
 * is a {@link ConfigException} naming the file, line and key path.
 */
public final class ConfigLoader {

    private ConfigLoader() {
    }

    /** Reads and validates a config file. */
    public static TiProxyConfig load(Path file) throws ConfigException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException(file.toString(), 0, "", "cannot be read: " + e, e);
        }
        return parse(text, file.toString());
    }

    /**
     * Parses and validates config text.
     *
     * @param sourceName where the text came from, used in error messages (a file name, or e.g. "api")
     */
    public static TiProxyConfig parse(String text, String sourceName) throws ConfigException {
        Optional<YamlNode> root = new YamlTreeReader(sourceName).read(text);
        YamlNode.Mapping sections = new YamlNode.Mapping(java.util.Map.of(), 0);
        TiProxyConfig config = TiProxyConfig.defaults();
        if (root.isPresent()) {
            if (!(root.get() instanceof YamlNode.Mapping mapping)) {
                throw new ConfigException(sourceName, root.get().line(), "",
                        "expected a mapping of sections (proxy, api, backend, security, log), got "
                                + root.get().describe());
            }
            sections = mapping;
            config = new ConfigBinder(sourceName).bindRecord(TiProxyConfig.class, mapping, config, "");
        }
        List<ConfigValidator.Problem> problems = ConfigValidator.check(config);
        if (!problems.isEmpty()) {
            ConfigValidator.Problem first = problems.get(0);
            throw new ConfigException(sourceName, lineOf(sections, first.keyPath()), first.keyPath(), first.reason());
        }
        return config;
    }

    /** The line of a key path, or of its nearest written ancestor; 0 when none of it is written. */
    private static int lineOf(YamlNode.Mapping sections, String keyPath) {
        String path = keyPath;
        while (!path.isEmpty()) {
            int line = sections.lineOf(path);
            if (line > 0) {
                return line;
            }
            int dot = path.lastIndexOf('.');
            path = dot < 0 ? "" : path.substring(0, dot);
        }
        return 0;
    }
}
