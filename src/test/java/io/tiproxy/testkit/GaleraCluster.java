package io.tiproxy.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Three MariaDB Galera nodes on loopback: every node accepts reads and writes and sees the same data.
 * Node 0 bootstraps the cluster ({@code --wsrep-new-cluster}) and gets the {@link TestAccounts};
 * nodes 1 and 2 join by rsync SST. A node stopped with {@link #stopNode(int)} rejoins (by IST) with
 * {@link #startNode(int)}. At least one node must stay up: a fully stopped cluster is not re-bootstrapped.
 * Nodes are numbered from 0.
 */
public final class GaleraCluster implements AutoCloseable {
    private static final int SIZE = 3;
    private static final String PROVIDER = "/usr/lib/galera/libgalera_smm.so";
    private static final Duration SYNC_TIMEOUT = Duration.ofSeconds(180);
    private static final String ROOT_SST_METHOD = "rsync_as_root";
    private static final String STOCK_RSYNC_SST = "/usr/bin/wsrep_sst_rsync";
    private static final String STOCK_RSYNC = "/usr/bin/rsync";

    private final List<MariaDbServer> nodes;

    private GaleraCluster(List<MariaDbServer> nodes) {
        this.nodes = List.copyOf(nodes);
    }

    /** Starts a fresh three-node cluster; returns when all nodes are Synced. */
    public static GaleraCluster start(String prefix) {
        List<int[]> ports = new ArrayList<>(); // {sql, gcomm, ist, sst} per node
        for (int i = 0; i < SIZE; i++) {
            ports.add(new int[] {Ports.allocate(), Ports.allocate(), Ports.allocate(), Ports.allocate()});
        }
        String clusterAddress = "gcomm://" + ports.stream()
                .map(p -> "127.0.0.1:" + p[1]).collect(Collectors.joining(","));
        String clusterName = "tiproxy-it-" + ports.get(0)[0];

        List<MariaDbServer> nodes = new ArrayList<>();
        for (int i = 0; i < SIZE; i++) {
            int[] p = ports.get(i);
            String name = prefix + "-galera-" + (i + 1);
            nodes.add(MariaDbServer.create(name, i + 1, p[0], List.of(
                    "binlog_format=ROW",
                    "default_storage_engine=InnoDB",
                    "innodb_autoinc_lock_mode=2",
                    "wsrep_on=ON",
                    "wsrep_provider=" + PROVIDER,
                    "wsrep_cluster_name=" + clusterName,
                    "wsrep_cluster_address=" + clusterAddress,
                    "wsrep_node_name=" + name,
                    "wsrep_node_address=127.0.0.1:" + p[1],
                    "wsrep_node_incoming_address=127.0.0.1:" + p[0],
                    "wsrep_provider_options=\"gmcast.listen_addr=tcp://127.0.0.1:" + p[1]
                            + ";ist.recv_addr=127.0.0.1:" + p[2] + ";gcache.size=32M\"",
                    "wsrep_sst_method=" + sstMethod(),
                    "wsrep_sst_receive_address=127.0.0.1:" + p[3])));
        }
        GaleraCluster cluster = new GaleraCluster(nodes);
        try {
            // only the first node needs mariadb-install-db: the joiners get all their data by SST
            nodes.get(0).initialize();
            for (int i = 1; i < SIZE; i++) {
                nodes.get(i).writeConfig();
            }
            nodes.forEach(GaleraCluster::installSstScripts);
            MariaDbServer first = nodes.get(0);
            first.launch(List.of("--wsrep-new-cluster"));
            first.awaitAlive(MariaDbServer.START_TIMEOUT);
            cluster.awaitSynced(0);
            first.runAsRoot(TestAccounts.setupSql());
            // the joiners start together: most of a join is the SST scripts' own start-up; a joiner
            // that finds every donor busy retries by itself
            for (int i = 1; i < SIZE; i++) {
                nodes.get(i).launch(List.of());
            }
            for (int i = 1; i < SIZE; i++) {
                nodes.get(i).awaitAlive(SYNC_TIMEOUT);
                cluster.awaitSynced(i);
            }
            return cluster;
        } catch (RuntimeException e) {
            cluster.close();
            throw e;
        }
    }

    public List<MariaDbServer> nodes() {
        return nodes;
    }

    /** Node i, counting from 0. */
    public MariaDbServer node(int i) {
        return nodes.get(i);
    }

    /** {@code "127.0.0.1:port"} of each node's SQL port, in order. */
    public List<String> addresses() {
        return nodes.stream().map(MariaDbServer::address).toList();
    }

    /** Clean shutdown of node i (it leaves the cluster; the others go on). */
    public void stopNode(int i) {
        nodes.get(i).stop();
    }

    /** Starts node i again; it rejoins the cluster. Returns when it is Synced. */
    public void startNode(int i) {
        MariaDbServer node = nodes.get(i);
        node.launch(List.of());
        node.awaitAlive(SYNC_TIMEOUT);
        awaitSynced(i);
    }

    /** Whether node i runs, is ready and reports {@code wsrep_local_state_comment='Synced'}. */
    public boolean isSynced(int i) {
        MariaDbServer node = nodes.get(i);
        if (!node.isRunning()) {
            return false;
        }
        try {
            return "Synced".equals(node.globalStatus("wsrep_local_state_comment"))
                    && "ON".equals(node.globalStatus("wsrep_ready"));
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Stops all nodes (last joined first) and deletes their data. */
    @Override
    public void close() {
        RuntimeException failure = null;
        for (int i = nodes.size() - 1; i >= 0; i--) {
            try {
                nodes.get(i).close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /**
     * The SST method. As root the stock rsync SST fails: the joiner starts {@code rsync --daemon} with
     * a config that names no {@code uid}, so rsync drops to {@code nobody}, who cannot write the data
     * directory ("cannot stat destination: Permission denied"). As root we therefore use our own
     * method, {@value #ROOT_SST_METHOD}: a script that runs the stock rsync SST with an {@code rsync}
     * wrapper first on its PATH, and the wrapper adds {@code uid/gid = root} to the daemon's config.
     * (mariadbd puts its own bin directory before our PATH, so the wrapper alone would not be found.)
     */
    private static String sstMethod() {
        return isRoot() ? ROOT_SST_METHOD : "rsync";
    }

    private static boolean isRoot() {
        return "root".equals(MariaDbServer.osUser());
    }

    private static void installSstScripts(MariaDbServer node) {
        if (!isRoot()) {
            return;
        }
        Path bin = node.dataDir().resolve("sst-bin");
        try {
            Files.createDirectories(bin);
            writeScript(bin.resolve("wsrep_sst_" + ROOT_SST_METHOD),
                    "#!/bin/sh",
                    "# written by GaleraCluster: the stock rsync SST, with our rsync wrapper first on PATH",
                    "PATH=\"$(dirname \"$0\"):$PATH\"",
                    "export PATH",
                    "exec " + STOCK_RSYNC_SST + " \"$@\"");
            writeScript(bin.resolve("rsync"),
                    "#!/bin/sh",
                    "# written by GaleraCluster: run the SST rsync daemon as root, not as nobody",
                    "prev=",
                    "for arg in \"$@\"; do",
                    "  if [ \"$prev\" = --config ]; then sed -i -e '1i uid = root' -e '1i gid = root' \"$arg\"; fi",
                    "  prev=$arg",
                    "done",
                    "exec " + STOCK_RSYNC + " \"$@\"");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write SST scripts in " + bin, e);
        }
        node.putFirstOnPath(bin);
    }

    private static void writeScript(Path file, String... lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwxr-xr-x"));
    }

    private void awaitSynced(int i) {
        MariaDbServer node = nodes.get(i);
        long deadline = System.nanoTime() + SYNC_TIMEOUT.toNanos();
        while (!isSynced(i)) {
            if (!node.isRunning()) {
                throw new IllegalStateException(node.name() + " exited while joining the cluster. error.log tail:\n"
                        + node.errorLogTail());
            }
            if (System.nanoTime() > deadline) {
                String state;
                try {
                    state = node.globalStatus("wsrep_local_state_comment");
                } catch (RuntimeException e) {
                    state = "unknown (" + e.getMessage() + ")";
                }
                throw new IllegalStateException(node.name() + " not Synced within " + SYNC_TIMEOUT + " (state: "
                        + state + "). error.log tail:\n" + node.errorLogTail());
            }
            Shell.sleep(200);
        }
    }
}
