package io.tiproxy.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * What every tiproxyctl command shares: the global options (on {@link TiProxyCtl}), output to the
 * command line's writers (so tests can capture it), and the mapping of failures to exit codes.
 */
abstract class CtlCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** Does the command's work. */
    abstract void execute(CtlClient client, PrintWriter out, boolean json) throws CtlClient.ApiError, CtlClient.CannotConnect;

    @Override
    public final Integer call() {
        TiProxyCtl ctl = (TiProxyCtl) spec.root().userObject();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try {
            execute(ctl.client(spec.commandLine()), out, ctl.json);
            return TiProxyCtl.OK;
        } catch (CtlClient.ApiError e) {
            err.println("tiproxyctl: " + e.getMessage());
            return TiProxyCtl.API_ERROR;
        } catch (CtlClient.CannotConnect e) {
            err.println("tiproxyctl: " + e.getMessage());
            return TiProxyCtl.CANNOT_CONNECT;
        } finally {
            out.flush();
            err.flush();
        }
    }

    /** The body as the API sent it, for {@code --json}, with exactly one line end. */
    static void printRaw(PrintWriter out, String body) {
        out.println(body.stripTrailing());
    }
}
