package io.tiproxy.cli;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * {@code tiproxyctl}: administers a running proxy through its HTTP API, as TiProxy's tool of the same
 * name does. Tables for people by default, the API's JSON with {@code --json}.
 *
 * <p>Exit codes: {@value #OK} done; {@value #API_ERROR} the proxy refused or failed (its message is
 * printed); {@value #USAGE} wrong command line; {@value #CANNOT_CONNECT} nothing answered.
 *
 * <p>{@code register} and {@code cert} are mounted when their classes are on the class path
 * ({@link OptionalCommands}).
 */
@Command(name = "tiproxyctl", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        sortOptions = false, modelTransformer = TiProxyCtl.OptionalCommands.class,
        description = "Administers a running TiProxy through its HTTP API.",
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {"0:done", "1:the proxy answered with an error (its message is printed)",
                "2:usage error", "3:cannot connect to the proxy's API"},
        subcommands = {HealthCommand.class, ConfigCommand.class, BackendsCommand.class, SessionsCommand.class,
                RedirectCommand.class, AutoComplete.GenerateCompletion.class})
public final class TiProxyCtl implements Runnable {
    public static final int OK = 0;
    public static final int API_ERROR = 1;
    public static final int USAGE = 2;
    public static final int CANNOT_CONNECT = 3;

    @Option(names = "--host", defaultValue = "127.0.0.1", scope = ScopeType.INHERIT, paramLabel = "HOST",
            description = "API host (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--port", defaultValue = "3080", scope = ScopeType.INHERIT, paramLabel = "PORT",
            description = "API port (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--json", scope = ScopeType.INHERIT, description = "print the API's JSON instead of tables")
    boolean json;

    @Option(names = "--user", scope = ScopeType.INHERIT, paramLabel = "NAME",
            defaultValue = "${env:TIPROXY_API_USER}",
            description = "API user for HTTP basic auth, with --password (default: $TIPROXY_API_USER)")
    String user;

    @Option(names = "--password", scope = ScopeType.INHERIT, paramLabel = "PASSWORD",
            defaultValue = "${env:TIPROXY_API_PASSWORD}",
            description = "API password (default: $TIPROXY_API_PASSWORD; the environment keeps it out of ps)")
    String password;

    @Option(names = "--token", scope = ScopeType.INHERIT, paramLabel = "TOKEN",
            defaultValue = "${env:TIPROXY_API_TOKEN}",
            description = "API bearer token (default: $TIPROXY_API_TOKEN)")
    String token;

    @Option(names = "--timeout", defaultValue = "10s", scope = ScopeType.INHERIT, paramLabel = "DURATION",
            converter = DurationConverter.class, description = "give up on the API after this long (default: ${DEFAULT-VALUE})")
    Duration timeout;

    @Option(names = "--ca", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "CA bundle (PEM) to verify the API's certificate with; implies HTTPS")
    String ca;

    @Option(names = "--cert", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "client certificate (PEM) to present, with --key; implies HTTPS")
    String cert;

    @Option(names = "--key", scope = ScopeType.INHERIT, paramLabel = "FILE",
            description = "private key (PEM) of --cert")
    String key;

    @Option(names = {"-k", "--insecure"}, scope = ScopeType.INHERIT,
            description = "HTTPS without verifying the API's certificate (testing only)")
    boolean insecure;

    @Option(names = "--tls", scope = ScopeType.INHERIT,
            description = "HTTPS, verifying the API's certificate with the JDK's trusted CAs")
    boolean tls;

    @Spec
    CommandSpec spec;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TiProxyCtl()).execute(args));
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "a command is needed (see the list above)");
    }

    /** The API client the global options describe. */
    CtlClient client(CommandLine caller) {
        if (token != null && !token.isEmpty() && user != null) {
            throw new ParameterException(caller, "use either --token or --user/--password, not both");
        }
        String authorization = null;
        if (user != null) {
            authorization = CtlClient.basicAuthorization(user, password == null ? "" : password);
        } else if (token != null && !token.isEmpty()) {
            authorization = CtlClient.bearerAuthorization(token);
        }
        if ((cert == null) != (key == null)) {
            throw new ParameterException(caller, "--cert and --key go together");
        }
        CtlTls httpsSettings = tls || insecure || ca != null || cert != null
                ? new CtlTls(ca, cert, key, insecure) : null;
        try {
            return new CtlClient(host, port, authorization, timeout, httpsSettings);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(caller, e.getMessage());
        }
    }

    /** Durations as in the config file: {@code 500ms}, {@code 10s}, {@code 1m}; a bare number is seconds. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return io.tiproxy.manager.config.Durations.parse(value);
        }
    }

    /**
     * Mounts commands built by others when their classes are on the class path ({@code register}:
     * {@code io.tiproxy.cli.RegisterCommand}; {@code cert}: {@code io.tiproxy.cli.CertCommand}), so this
     * class compiles and runs without them.
     */
    static final class OptionalCommands implements CommandLine.IModelTransformer {
        static final String REGISTER_CLASS = "io.tiproxy.cli.RegisterCommand";
        static final List<Map.Entry<String, String>> OPTIONAL = List.of(
                Map.entry("register", REGISTER_CLASS), Map.entry("cert", "io.tiproxy.cli.CertCommand"));

        @Override
        public CommandSpec transform(CommandSpec spec) {
            if (!(spec.userObject() instanceof TiProxyCtl)) {
                return spec;
            }
            for (Map.Entry<String, String> command : OPTIONAL) {
                String name = command.getKey();
                String className = command.getValue();
                try {
                    Class<?> type = Class.forName(className);
                    var constructor = type.getDeclaredConstructor();
                    constructor.setAccessible(true);
                    spec.addSubcommand(name, new CommandLine(constructor.newInstance()));
                } catch (ClassNotFoundException e) {
                    // not built into this jar: no such command
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("cannot create " + className, e);
                }
            }
            return spec;
        }
    }
}
