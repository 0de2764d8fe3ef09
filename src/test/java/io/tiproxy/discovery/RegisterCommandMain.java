package io.tiproxy.discovery;

import io.tiproxy.cli.RegisterCommand;
import picocli.CommandLine;

/** Runs {@code tiproxyctl register} on its own, so a test can start it as a process and SIGTERM it. */
public final class RegisterCommandMain {
    private RegisterCommandMain() {
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new RegisterCommand()).execute(args));
    }
}
