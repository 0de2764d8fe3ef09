package io.tiproxy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * {@code tiproxyctl cert generate --out DIR}: the self-signed certificate and key that every TiDB uses to
 * sign and check session tokens ({@code security.session-token-signing-cert} / {@code -key}; the same
 * pair on every TiDB). Runs {@code openssl}, which must be installed; works offline, needs no proxy.
 */
@Command(name = "cert", description = "Certificates for TiDB session migration.",
        subcommands = CertCommand.Generate.class)
public final class CertCommand {

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Generates a self-signed certificate and key for TiDB's session tokens "
                    + "(put the same pair on every TiDB) and prints the config.toml lines.",
                    "Needs the openssl command."})
    static final class Generate implements Callable<Integer> {
        enum Algorithm { rsa, ecdsa, ed25519 }

        @Option(names = "--out", required = true, paramLabel = "DIR", description = "directory for cert.pem and key.pem")
        Path out;

        @Option(names = "--algorithm", defaultValue = "rsa", paramLabel = "ALG",
                description = "key type: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}; RSA 2048 with SHA-256, ECDSA P-256)")
        Algorithm algorithm;

        @Option(names = "--days", defaultValue = "3650", paramLabel = "N", description = "validity (default: ${DEFAULT-VALUE})")
        int days;

        @Option(names = "--force", description = "overwrite existing files")
        boolean force;

        @Option(names = "--openssl", defaultValue = "openssl", paramLabel = "PATH", hidden = true)
        String openssl;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            PrintWriter err = spec.commandLine().getErr();
            PrintWriter outWriter = spec.commandLine().getOut();
            Path cert = out.resolve("cert.pem").toAbsolutePath();
            Path key = out.resolve("key.pem").toAbsolutePath();
            try {
                Files.createDirectories(out);
                if (!force && (Files.exists(cert) || Files.exists(key))) {
                    err.println("error: " + cert + " or " + key + " exists (use --force to overwrite)");
                    return TiProxyCtl.USAGE;
                }
                List<String> cmd = new ArrayList<>(List.of(openssl, "req", "-x509", "-nodes", "-days",
                        Integer.toString(days), "-subj", "/CN=tidb-session-token-signing", "-keyout", key.toString(),
                        "-out", cert.toString()));
                switch (algorithm) {
                    case rsa -> cmd.addAll(List.of("-newkey", "rsa:2048", "-sha256"));
                    case ecdsa -> cmd.addAll(List.of("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha256"));
                    case ed25519 -> cmd.addAll(List.of("-newkey", "ed25519"));
                }
                String failure = run(cmd);
                if (failure != null) {
                    err.println("error: " + failure);
                    return TiProxyCtl.API_ERROR;
                }
                try {
                    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
                } catch (UnsupportedOperationException ignored) {
                    // not a POSIX file system: leave the default permissions
                }
            } catch (IOException e) {
                err.println("error: " + e.getMessage());
                return TiProxyCtl.API_ERROR;
            }
            outWriter.println("# wrote " + cert + " and " + key + " (" + algorithm + ")");
            outWriter.println("# copy both to every TiDB (the same pair everywhere) and add to its config.toml:");
            outWriter.println("[security]");
            outWriter.println("session-token-signing-cert = \"" + cert + "\"");
            outWriter.println("session-token-signing-key = \"" + key + "\"");
            outWriter.println();
            outWriter.println("# and, at the top level, longer than your longest transaction (seconds):");
            outWriter.println("graceful-wait-before-shutdown = 15");
            outWriter.flush();
            return TiProxyCtl.OK;
        }

        /** Runs the command; null when it worked, else why not. */
        private static String run(List<String> cmd) throws IOException {
            Process p;
            try {
                p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            } catch (IOException e) {
                return "cannot run '" + cmd.get(0) + "' (is openssl installed and on the PATH?): " + e.getMessage();
            }
            try {
                String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    return "openssl did not finish in 60 s";
                }
                return p.exitValue() == 0 ? null : "openssl failed (exit " + p.exitValue() + "): " + output.trim();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                return "interrupted";
            }
        }
    }
}
