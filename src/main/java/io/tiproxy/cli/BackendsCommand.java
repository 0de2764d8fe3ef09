package io.tiproxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tiproxyctl backends list|drain|undrain}. */
@Command(mixinStandardHelpOptions = true, name = "backends", description = "List, drain and undrain backends.",
        subcommands = {BackendsCommand.ListBackends.class, BackendsCommand.Drain.class, BackendsCommand.Undrain.class})
final class BackendsCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "say list, drain ADDR or undrain ADDR");
    }

    /** One row per backend: address, state, sessions, load (unknown: -), why. */
    @Command(mixinStandardHelpOptions = true, name = "list", description = "List backends with their state and session count (GET /api/backends).")
    static final class ListBackends extends CtlCommand {
        @Override
        void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
            CtlClient.Response response = client.get("/api/backends");
            if (json) {
                printRaw(out, response.body());
                return;
            }
            CtlTable table = new CtlTable("ADDR", "STATE", "SESSIONS", "LOAD", "SINCE", "REASON");
            for (JsonNode b : response.json()) {
                JsonNode load = b.path("load");
                table.row(b.path("addr").asText(), b.path("state").asText(), b.path("sessions").asText(),
                        load.isNumber() ? load.asText() : "-", toSeconds(b.path("since").asText()), b.path("reason").asText());
            }
            table.print(out);
        }
    }

    /** An ISO instant without its fraction of a second; other text as it is. */
    static String toSeconds(String instant) {
        try {
            return Instant.parse(instant).truncatedTo(ChronoUnit.SECONDS).toString();
        } catch (DateTimeParseException e) {
            return instant;
        }
    }

    /** POST (drain) or DELETE (undrain) of a backend's drain resource, then the API's JSON or a short line. */
    static void callDrain(CtlClient client, PrintWriter out, boolean json, String method, String addr, String done)
            throws CtlClient.ApiError, CtlClient.CannotConnect {
        CtlClient.Response response = client.send(method, "/api/backends/" + CtlClient.segment(addr) + "/drain",
                null, null, false);
        if (json) {
            CtlCommand.printRaw(out, response.body());
        } else {
            out.println(done + addr);
        }
    }

    /** No new sessions go to the backend and its sessions move away. */
    @Command(mixinStandardHelpOptions = true, name = "drain", description = "Send no new sessions to a backend and move its sessions away.")
    static final class Drain extends CtlCommand {
        @Parameters(paramLabel = "ADDR", description = "the backend, host:port as in backends list")
        String addr;

        @Override
        void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
            callDrain(client, out, json, "POST", addr, "draining ");
        }
    }

    /** The backend takes sessions again (when healthy). */
    @Command(mixinStandardHelpOptions = true, name = "undrain", description = "Let a drained backend take sessions again.")
    static final class Undrain extends CtlCommand {
        @Parameters(paramLabel = "ADDR", description = "the backend, host:port as in backends list")
        String addr;

        @Override
        void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
            callDrain(client, out, json, "DELETE", addr, "undrained ");
        }
    }
}
