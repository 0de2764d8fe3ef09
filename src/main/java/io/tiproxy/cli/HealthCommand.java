package io.tiproxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

/** {@code tiproxyctl health}: exit 0 when the proxy takes sessions, 1 (with the reason) when not. */
@Command(mixinStandardHelpOptions = true, name = "health", description = "Show whether the proxy takes new sessions (GET /api/debug/health).")
final class HealthCommand extends CtlCommand {

    @Override
    void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
        CtlClient.Response response = client.send("GET", "/api/debug/health", null, null, true);
        if (json) {
            printRaw(out, response.body());
        }
        if (response.status() >= 400) {
            throw new CtlClient.ApiError("unhealthy: " + CtlClient.errorMessage(response), response.body());
        }
        if (!json) {
            JsonNode body = response.json();
            out.println(body.path("status").asText("ok") + " (config checksum " + body.path("config_checksum").asText() + ")");
        }
    }
}
