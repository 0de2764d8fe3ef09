package io.tiproxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tiproxyctl config get|set}. */
@Command(mixinStandardHelpOptions = true, name = "config", description = "Show or replace the running configuration.",
        subcommands = {ConfigCommand.GetConfig.class, ConfigCommand.SetConfig.class})
final class ConfigCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "say get or set FILE");
    }

    /** The running config, YAML by default (what {@code set} takes back); secrets masked. */
    @Command(mixinStandardHelpOptions = true, name = "get", description = "Print the running config; secrets show as ******.")
    static final class GetConfig extends CtlCommand {
        @Option(names = "--format", paramLabel = "yaml|json",
                description = "yaml (default; what config set reads) or json (the default with --json)")
        String format;

        @Override
        void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
            String chosen = format != null ? format : json ? "json" : "yaml";
            if (!chosen.equals("yaml") && !chosen.equals("json")) {
                throw new ParameterException(spec.commandLine(), "--format must be yaml or json, got " + chosen);
            }
            printRaw(out, client.get("/api/admin/config?format=" + chosen).body());
        }
    }

    /**
     * Replaces the running config with a file's (validated as a whole; keys that need a restart
     * refuse it). Secrets written as {@code ******} keep their running values.
     */
    @Command(mixinStandardHelpOptions = true, name = "set", description = "Replace the running config with FILE (YAML; - reads stdin). "
            + "It is validated as a whole and applied all at once or not at all.")
    static final class SetConfig extends CtlCommand {
        @Parameters(paramLabel = "FILE", description = "the whole config as YAML, or - for stdin")
        String file;

        @Override
        void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
            String yaml = read();
            CtlClient.Response response = client.send("PUT", "/api/admin/config", yaml,
                    "application/yaml; charset=utf-8", false);
            if (json) {
                printRaw(out, response.body());
                return;
            }
            JsonNode body = response.json();
            out.println(body.path("status").asText() + " (config checksum " + body.path("config_checksum").asText() + ")");
            for (JsonNode change : body.path("changes")) {
                out.println("  " + change.asText());
            }
        }

        private String read() {
            try {
                return file.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8)
                        : Files.readString(Path.of(file), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new ParameterException(spec.commandLine(), "cannot read " + file + ": " + e);
            }
        }
    }
}
