package io.tiproxy.cli;

import java.io.PrintWriter;
import picocli.CommandLine.Command;

/** {@code tiproxyctl redirect}: asks every session to move to the best backend now. */
@Command(mixinStandardHelpOptions = true, name = "redirect", description = "Ask every session to move to the best backend (POST /api/debug/redirect).")
final class RedirectCommand extends CtlCommand {

    @Override
    void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect {
        CtlClient.Response response = client.send("POST", "/api/debug/redirect", null, null, false);
        if (json) {
            printRaw(out, response.body());
            return;
        }
        out.println("asked " + response.json().path("redirected").asInt() + " sessions to move");
    }
}
