package io.tiproxy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

/** {@code tiproxyctl sessions}: one row per client session. */
@Command(mixinStandardHelpOptions = true, name = "sessions", description = "List client sessions and whether each can move (GET /api/sessions).")
final class SessionsCommand extends CtlCommand {

    @Override
    void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
        CtlClient.Response response = client.get("/api/sessions");
        if (json) {
            printRaw(out, response.body());
            return;
        }
        CtlTable table = new CtlTable("ID", "USER", "CLIENT", "BACKEND", "TLS", "MIGRATABLE");
        for (JsonNode s : response.json()) {
            String migratable = s.path("migratable").asBoolean()
                    ? "yes" : "no: " + s.path("not_migratable_reason").asText();
            table.row(s.path("id").asText(), s.path("user").asText(), stripSlash(s.path("client").asText()),
                    s.path("backend").asText(), s.path("tls").asBoolean() ? "yes" : "no", migratable);
        }
        table.print(out);
    }

    /** Java prints socket addresses as {@code /127.0.0.1:5000} (no host name): show {@code 127.0.0.1:5000}. */
    private static String stripSlash(String address) {
        return address.startsWith("/") ? address.substring(1) : address;
    }
}
