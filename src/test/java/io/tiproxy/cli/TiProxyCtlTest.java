package io.tiproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** tiproxyctl run in-process against a real proxy in front of real MariaDB servers. */
class TiProxyCtlTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static TestProxy proxy;
    private static List<String> backends;

    record Run(int exit, String out, String err) {
    }

    @BeforeAll
    static void startProxy() {
        backends = MariaDbCluster.shared().addresses();
        proxy = TestProxy.start(backends);
    }

    @AfterAll
    static void stopProxy() {
        proxy.close();
    }

    static Run ctlAt(int port, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine commandLine = new CommandLine(new TiProxyCtl());
        commandLine.setOut(new PrintWriter(out, true));
        commandLine.setErr(new PrintWriter(err, true));
        List<String> all = new ArrayList<>(List.of("--port", String.valueOf(port)));
        all.addAll(List.of(args));
        int exit = commandLine.execute(all.toArray(String[]::new));
        return new Run(exit, out.toString(), err.toString());
    }

    private static Run ctl(String... args) {
        return ctlAt(proxy.apiPort(), args);
    }

    @Test
    void healthSaysOkWithTheConfigChecksum() {
        Run run = ctl("health");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).matches("ok \\(config checksum [0-9a-f]{64}\\)\\R");
    }

    @Test
    void backendsListIsAnAlignedTable() {
        Run run = ctl("backends", "list");

        assertThat(run.exit()).as(run.err()).isZero();
        List<String> lines = run.out().lines().toList();
        assertThat(lines.get(0)).startsWith("ADDR").contains("STATE", "SESSIONS", "LOAD", "SINCE", "REASON");
        assertThat(lines).hasSize(1 + backends.size());
        int stateColumn = lines.get(0).indexOf("STATE");
        for (int i = 0; i < backends.size(); i++) {
            String row = lines.get(1 + i);
            assertThat(row).startsWith(backends.stream().sorted().toList().get(i));
            assertThat(row.substring(stateColumn)).startsWith("healthy");
        }
    }

    @Test
    void jsonPrintsTheApisAnswer() throws Exception {
        Run run = ctl("backends", "list", "--json");

        assertThat(run.exit()).isZero();
        JsonNode json = JSON.readTree(run.out());
        assertThat(json.isArray()).isTrue();
        assertThat(json).hasSize(backends.size());
        assertThat(json.get(0).path("addr").asText()).isIn(backends);
    }

    @Test
    void drainAndUndrainShowInTheList() {
        String backend = backends.get(0);

        Run drain = ctl("backends", "drain", backend);
        assertThat(drain.exit()).as(drain.err()).isZero();
        assertThat(drain.out()).isEqualTo("draining " + backend + System.lineSeparator());
        assertThat(rowOf(backend)).contains("draining");

        Run undrain = ctl("backends", "undrain", backend);
        assertThat(undrain.exit()).as(undrain.err()).isZero();
        assertThat(rowOf(backend)).contains("healthy");
    }

    private static String rowOf(String backend) {
        return ctl("backends", "list").out().lines().filter(l -> l.startsWith(backend + " ")).findFirst().orElseThrow();
    }

    @Test
    void anUnknownBackendIsAnApiErrorWithTheServersMessage() {
        Run run = ctl("backends", "drain", "127.0.0.1:1");

        assertThat(run.exit()).isEqualTo(TiProxyCtl.API_ERROR);
        assertThat(run.err()).isEqualTo("tiproxyctl: unknown backend 127.0.0.1:1" + System.lineSeparator());
        assertThat(run.out()).isEmpty();
    }

    @Test
    void sessionsListsAnOpenSession() throws Exception {
        try (Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD)) {
            c.createStatement().execute("SELECT 1");

            Run run = ctl("sessions");
            assertThat(run.exit()).as(run.err()).isZero();
            List<String> lines = run.out().lines().toList();
            assertThat(lines.get(0)).startsWith("ID").contains("USER", "CLIENT", "BACKEND", "TLS", "MIGRATABLE");
            assertThat(lines).anySatisfy(line -> assertThat(line).contains(TestAccounts.APP_USER).contains("127.0.0.1:"));

            JsonNode json = JSON.readTree(ctl("sessions", "--json").out());
            assertThat(json).anySatisfy(s -> assertThat(s.path("user").asText()).isEqualTo(TestAccounts.APP_USER));
        }
    }

    @Test
    void redirectSaysHowManySessionsWereAsked() {
        Run run = ctl("redirect");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).matches("asked \\d+ sessions to move\\R");
    }

    @Test
    void nothingListeningIsExitCode3() throws Exception {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        }

        Run run = ctlAt(port, "health");

        assertThat(run.exit()).isEqualTo(TiProxyCtl.CANNOT_CONNECT);
        assertThat(run.err()).startsWith("tiproxyctl: cannot connect to the TiProxy API at http://127.0.0.1:" + port);
    }

    @Test
    void usageErrorsAreExitCode2() {
        assertThat(ctl("backends", "drain").exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(ctl("no-such-command").exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(ctl("backends").exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(ctl().exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(ctl("--timeout", "soon", "health").exit()).isEqualTo(TiProxyCtl.USAGE);
        assertThat(ctl("--token", "t", "--user", "u", "health").exit()).isEqualTo(TiProxyCtl.USAGE);
    }

    @Test
    void globalOptionsMayFollowTheCommand() {
        Run run = new CommandLineRun().execute("health", "--port", String.valueOf(proxy.apiPort()), "--json");

        assertThat(run.exit()).as(run.err()).isZero();
        assertThat(run.out()).startsWith("{\"status\":\"ok\"");
    }

    @Test
    void generateCompletionPrintsABashScript() {
        Run run = ctl("generate-completion");

        assertThat(run.exit()).isZero();
        assertThat(run.out()).contains("complete -F").contains("tiproxyctl");
    }

    @Test
    void optionalCommandsAreMountedExactlyWhenTheirClassesExist() {
        var subcommands = new CommandLine(new TiProxyCtl()).getSubcommands();

        for (var command : TiProxyCtl.OptionalCommands.OPTIONAL) {
            boolean exists;
            try {
                Class.forName(command.getValue());
                exists = true;
            } catch (ClassNotFoundException e) {
                exists = false;
            }
            assertThat(subcommands.containsKey(command.getKey())).as(command.getKey()).isEqualTo(exists);
        }
    }

    @Test
    void helpWorksOnEveryLevel() {
        for (String[] args : new String[][] {{"--help"}, {"backends", "--help"}, {"backends", "drain", "--help"},
                {"config", "set", "--help"}, {"sessions", "-h"}}) {
            Run run = ctl(args);
            assertThat(run.exit()).as(String.join(" ", args) + ": " + run.err()).isZero();
            assertThat(run.out()).startsWith("Usage: tiproxyctl");
        }
    }

    /** Runs with exactly the given arguments (no --port added). */
    private static final class CommandLineRun {
        Run execute(String... args) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            CommandLine commandLine = new CommandLine(new TiProxyCtl());
            commandLine.setOut(new PrintWriter(out, true));
            commandLine.setErr(new PrintWriter(err, true));
            return new Run(commandLine.execute(args), out.toString(), err.toString());
        }
    }
}
