package io.tiproxy.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One real {@code mariadbd} on a free loopback port, with a throw-away data directory under
 * {@code target/it-data/<name>-<port>/}. On first start it gets the database and accounts of
 * {@link TestAccounts}. {@link #stop()} keeps the data (for {@link #restart()}); {@link #close()}
 * stops and deletes it.
 *
 * <p>The root account is socket-authenticated only; the harness reaches it with the {@code mariadb}
 * command-line client over the unix socket. JDBC goes through {@link TestAccounts#ADMIN_USER}.
 *
 * <p>Each server is watched by a small shell loop that SIGKILLs it if this JVM dies without running
 * its shutdown hooks, so a crashed test run does not leave servers behind.
 */
public final class MariaDbServer implements AutoCloseable {
    static final Duration START_TIMEOUT = Duration.ofSeconds(90);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(60);
    private static final int START_ATTEMPTS = 3;
    /** {@code -Dtiproxy.it.keepData=true} keeps data directories and logs for a post-mortem. */
    static final String KEEP_DATA_PROPERTY = "tiproxy.it.keepData";

    private final String name;
    private final int port;
    private final int serverId;
    private final Path dir;
    private final Path socket;
    private final List<String> extraCnfLines;
    private volatile Process process;
    private volatile boolean suspended;
    private volatile Path pathFirst;

    private MariaDbServer(String name, int serverId, int port, List<String> extraCnfLines) {
        this.name = name;
        this.port = port;
        this.serverId = serverId;
        this.dir = dataRoot().resolve(name + "-" + port);
        this.socket = socketPath(dir, port);
        this.extraCnfLines = List.copyOf(extraCnfLines);
    }

    /** Starts a fresh server with the standard my.cnf and the {@link TestAccounts}. */
    public static MariaDbServer start(String name, int serverId) {
        return start(name, serverId, List.of());
    }

    /**
     * Starts a fresh server; {@code extraCnfLines} are appended to the {@code [mysqld]} section and
     * win over the defaults (for example {@code "max_connect_errors=10"}).
     */
    public static MariaDbServer start(String name, int serverId, List<String> extraCnfLines) {
        for (int attempt = 1; ; attempt++) {
            MariaDbServer server = create(name, serverId, Ports.allocate(), extraCnfLines);
            try {
                server.initialize();
                server.launch(List.of());
                server.awaitAlive(START_TIMEOUT);
                server.runAsRoot(TestAccounts.setupSql());
                return server;
            } catch (RuntimeException e) {
                boolean portRace = server.errorLogTail().contains("Address already in use");
                server.close();
                if (!portRace || attempt >= START_ATTEMPTS) {
                    throw e;
                }
            }
        }
    }

    /** A server that is not yet initialised or started (for {@link GaleraCluster}). */
    static MariaDbServer create(String name, int serverId, int port, List<String> extraCnfLines) {
        return new MariaDbServer(name, serverId, port, extraCnfLines);
    }

    public String name() {
        return name;
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    public int serverId() {
        return serverId;
    }

    /** {@code 127.0.0.1:port}. */
    public String address() {
        return host() + ":" + port;
    }

    /** {@code jdbc:mariadb://127.0.0.1:port/test}. */
    public String jdbcUrl() {
        return "jdbc:mariadb://" + address() + "/" + TestAccounts.DATABASE;
    }

    /** The server's own directory: my.cnf, error.log, the socket, and the datadir {@code data/}. */
    public Path dataDir() {
        return dir;
    }

    public Path errorLog() {
        return dir.resolve("error.log");
    }

    public boolean isRunning() {
        Process p = process;
        return p != null && p.isAlive();
    }

    public long pid() {
        Process p = process;
        if (p == null) {
            throw new IllegalStateException(name + " was never started");
        }
        return p.pid();
    }

    /** A JDBC connection as {@link TestAccounts#ADMIN_USER} (all privileges, with grant option). */
    public Connection rootConnection() throws SQLException {
        return DriverManager.getConnection(jdbcUrl(), TestAccounts.ADMIN_USER, TestAccounts.ADMIN_PASSWORD);
    }

    /** Runs each statement over JDBC as {@link TestAccounts#ADMIN_USER}. */
    public void execAsAdmin(String... sql) {
        try (Connection conn = rootConnection(); Statement stmt = conn.createStatement()) {
            for (String s : sql) {
                stmt.execute(s);
            }
        } catch (SQLException e) {
            throw new IllegalStateException(name + ": " + e.getMessage(), e);
        }
    }

    /** Clean shutdown: SIGTERM and wait (SIGCONT first if it was stopped). Keeps the data. */
    public synchronized void stop() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        if (suspended) {
            sigcont();
        }
        p.destroy(); // SIGTERM
        if (!Shell.waitFor(p, STOP_TIMEOUT)) {
            signal("-KILL");
            Shell.waitFor(p, Duration.ofSeconds(10));
            throw new IllegalStateException(name + " did not shut down within " + STOP_TIMEOUT
                    + " after SIGTERM; killed it. error.log tail:\n" + errorLogTail());
        }
    }

    /** SIGKILL: the server dies at once, as in a crash. */
    public synchronized void kill9() {
        Process p = process;
        if (p == null || !p.isAlive()) {
            return;
        }
        signal("-KILL");
        suspended = false;
        if (!Shell.waitFor(p, Duration.ofSeconds(30))) {
            throw new IllegalStateException(name + " (pid " + p.pid() + ") survived SIGKILL");
        }
    }

    /** SIGSTOP: the server freezes; its sockets stay open but nothing answers. */
    public synchronized void sigstop() {
        signal("-STOP");
        suspended = true;
    }

    /** SIGCONT after {@link #sigstop()}. */
    public synchronized void sigcont() {
        signal("-CONT");
        suspended = false;
    }

    /** Stops the server if it runs, then starts it again: same port, data directory and server id. */
    public synchronized void restart() {
        stop();
        launch(List.of());
        awaitAlive(START_TIMEOUT);
    }

    /** Stops the server and deletes its data directory (kept with {@code -Dtiproxy.it.keepData=true}). */
    @Override
    public synchronized void close() {
        try {
            if (isRunning()) {
                try {
                    stop();
                } catch (RuntimeException e) {
                    kill9();
                }
            }
        } finally {
            if (!Boolean.getBoolean(KEEP_DATA_PROPERTY)) {
                Shell.deleteRecursively(dir);
            }
            if (!socket.startsWith(dir)) {
                try {
                    Files.deleteIfExists(socket);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    @Override
    public String toString() {
        return "MariaDbServer[" + name + " " + address() + " server_id=" + serverId + "]";
    }

    // ---- package-private steps, also used by GaleraCluster ----

    /** Writes my.cnf and runs {@code mariadb-install-db}. */
    void initialize() {
        writeConfig();
        Shell.Result result = Shell.run(List.of(Shell.binary("mariadb-install-db"), "--defaults-file=" + cnf(),
                "--skip-test-db", "--auth-root-authentication-method=socket"), null, dir.resolve("install.log"));
        if (result.exitCode() != 0) {
            throw new IllegalStateException(name + ": mariadb-install-db failed (exit " + result.exitCode()
                    + "):\n" + Shell.tail(result.output(), 30));
        }
    }

    /** Puts {@code dir} first on the PATH of mariadbd and its helpers (Galera's SST scripts) from the next launch on. */
    void putFirstOnPath(Path dir) {
        this.pathFirst = dir;
    }

    /** Writes my.cnf and creates the tmpdir and an empty data directory (all a Galera joiner needs: SST fills it). */
    void writeConfig() {
        try {
            Files.createDirectories(dir.resolve("tmp"));
            Files.createDirectories(dir.resolve("data"));
            Files.write(cnf(), myCnf(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + dir, e);
        }
    }

    /** Starts {@code mariadbd} (does not wait). {@code extraArgs} go after {@code --defaults-file}. */
    synchronized void launch(List<String> extraArgs) {
        if (isRunning()) {
            throw new IllegalStateException(name + " is already running (pid " + pid() + ")");
        }
        List<String> command = new ArrayList<>(List.of(Shell.binary("mariadbd"), "--defaults-file=" + cnf()));
        command.addAll(extraArgs);
        try {
            Path log = dir.resolve("mariadbd.out");
            ProcessBuilder pb = new ProcessBuilder(command)
                    .directory(dir.toFile())
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .redirectInput(ProcessBuilder.Redirect.from(Paths.get("/dev/null").toFile()));
            if (pathFirst != null) {
                pb.environment().merge("PATH", pathFirst.toString(), (old, first) -> first + ":" + old);
            }
            Process p = pb.start();
            process = p;
            suspended = false;
            Shell.startWatchdog(p.pid());
        } catch (IOException e) {
            throw new UncheckedIOException(name + ": cannot start mariadbd", e);
        }
    }

    /** Waits until the server answers a ping on its unix socket. */
    void awaitAlive(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            Process p = process;
            if (p == null || !p.isAlive()) {
                String exit = p == null ? "never started" : "exited with code " + p.exitValue();
                throw new IllegalStateException(name + ": mariadbd " + exit + " while starting on port " + port
                        + ". error.log tail:\n" + errorLogTail());
            }
            if (Files.exists(socket) && ping()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": mariadbd (pid " + p.pid() + ") did not accept connections on "
                        + socket + " within " + timeout + ". error.log tail:\n" + errorLogTail());
            }
            Shell.sleep(100);
        }
    }

    /** Runs SQL with the {@code mariadb} CLI over the unix socket as root; returns its output (batch, no column names). */
    String runAsRoot(String sql) {
        Shell.Result result = Shell.run(List.of(Shell.binary("mariadb"), "--no-defaults", "--protocol=SOCKET", "--socket=" + socket,
                "--user=" + osUser(), "--batch", "--skip-column-names", "--connect-timeout=10"), sql, null);
        if (result.exitCode() != 0) {
            throw new IllegalStateException(name + ": mariadb CLI failed (exit " + result.exitCode() + ") running:\n"
                    + sql + "\n" + result.output());
        }
        return result.output();
    }

    /** A numeric global status variable ({@code Com_set_option}, {@code Aborted_clients}...), read over JDBC. */
    public long globalStatusNumber(String variable) throws SQLException {
        try (Connection c = rootConnection(); Statement st = c.createStatement();
             ResultSet rs = st.executeQuery("SHOW GLOBAL STATUS LIKE '" + variable + "'")) {
            return rs.next() ? rs.getLong(2) : 0;
        }
    }

    /** The value of a global status variable, read over the unix socket as root. */
    String globalStatus(String variable) {
        String out = runAsRoot("SHOW GLOBAL STATUS LIKE '" + variable + "'").trim();
        int tab = out.indexOf('\t');
        return tab < 0 ? "" : out.substring(tab + 1).trim();
    }

    String errorLogTail() {
        try {
            Path log = errorLog();
            if (!Files.exists(log)) {
                return "(no error.log at " + log + ")";
            }
            return Shell.tail(Files.readString(log, StandardCharsets.ISO_8859_1), 40);
        } catch (IOException e) {
            return "(cannot read error.log: " + e + ")";
        }
    }

    // ---- internals ----

    private Path cnf() {
        return dir.resolve("my.cnf");
    }

    private List<String> myCnf() {
        List<String> lines = new ArrayList<>(List.of(
                "[mysqld]",
                "user=" + osUser(),
                "port=" + port,
                "bind-address=127.0.0.1",
                "socket=" + socket,
                "datadir=" + dir.resolve("data"),
                "pid-file=" + dir.resolve("mysqld.pid"),
                "log-error=" + errorLog(),
                // a private tmpdir: servers bootstrapped at once collide on temporary table names in /tmp
                "tmpdir=" + dir.resolve("tmp"),
                "server-id=" + serverId,
                "max_allowed_packet=64M",
                "innodb_buffer_pool_size=32M",
                "innodb_log_file_size=16M",
                "innodb_flush_log_at_trx_commit=2",
                "performance_schema=OFF",
                "skip-name-resolve",
                "max_connections=1000",
                // a proxy's health probes must never get 127.0.0.1 blocked for the whole test run
                "max_connect_errors=1000000",
                "local-infile=1"));
        lines.addAll(extraCnfLines);
        return lines;
    }

    private boolean ping() {
        Shell.Result result = Shell.run(List.of(Shell.binary("mariadb-admin"), "--no-defaults", "--protocol=SOCKET",
                "--socket=" + socket, "--user=" + osUser(), "--connect-timeout=2", "ping"), null, null);
        return result.exitCode() == 0;
    }

    private void signal(String signal) {
        Process p = process;
        if (p == null || !p.isAlive()) {
            throw new IllegalStateException(name + " is not running");
        }
        Shell.kill(signal, p.pid());
    }

    /** The OS account mariadbd runs as; install-db gives it a socket-authenticated superuser account. */
    static String osUser() {
        return System.getProperty("user.name");
    }

    /** {@code <repo>/target/it-data}: surefire sets {@code basedir}; otherwise the working directory. */
    static Path dataRoot() {
        String base = System.getProperty("basedir", System.getProperty("user.dir"));
        return Paths.get(base).toAbsolutePath().resolve("target").resolve("it-data");
    }

    /** Unix socket paths are limited to 107 bytes; fall back to /tmp for a deep checkout. */
    private static Path socketPath(Path dir, int port) {
        Path inDir = dir.resolve("mysqld.sock");
        if (inDir.toString().getBytes(StandardCharsets.UTF_8).length <= 100) {
            return inDir;
        }
        return Paths.get(System.getProperty("java.io.tmpdir"), "tiproxy-it-" + port + ".sock");
    }
}
