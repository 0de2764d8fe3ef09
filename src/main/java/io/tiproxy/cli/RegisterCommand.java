package io.tiproxy.cli;

import io.tiproxy.discovery.DiscoveredBackend;
import io.tiproxy.discovery.EtcdConnection;
import io.tiproxy.discovery.RegistrationSettings;
import io.tiproxy.discovery.TopologyInfo;
import io.tiproxy.discovery.TopologyPaths;
import io.tiproxy.discovery.TopologyRegistrar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * {@code tiproxyctl register}: a sidecar that puts a MariaDB/MySQL server into PD's topology as if it
 * were a TiDB ({@code /topology/tidb/<addr>/info} + {@code ttl} under a lease) and keeps it there until
 * SIGTERM/SIGINT, when it deletes its keys. Proxies discovering from etcd then treat the server like
 * any TiDB: it appears when the sidecar starts and disappears when it stops or dies (lease expiry).
 */
@Command(name = "register", sortOptions = false,
        description = "Keep a backend registered in PD's etcd topology until stopped (SIGTERM deletes its keys).")
public final class RegisterCommand implements Callable<Integer> {

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "show this help")
    boolean help;

    @Option(names = "--etcd", required = true, split = ",", paramLabel = "HOST:PORT",
            description = "etcd (PD) endpoints, comma-separated")
    List<String> etcd;

    @Option(names = "--addr", required = true, paramLabel = "IP:PORT", description = "the backend's SQL address")
    String addr;

    @Option(names = "--status-port", defaultValue = "0", paramLabel = "PORT",
            description = "TiDB-style status port to probe (GET /status); 0 for none (default)")
    int statusPort;

    @Option(names = "--labels", split = ",", paramLabel = "KEY=VALUE", description = "labels, e.g. zone=a,rack=r1")
    Map<String, String> labels = Map.of();

    @Option(names = "--server-version", defaultValue = "", paramLabel = "TEXT",
            description = "version written into info (e.g. 10.11.6-MariaDB)")
    String serverVersion;

    @Option(names = "--component", defaultValue = TopologyPaths.TIDB, paramLabel = "NAME",
            description = "topology component (default: ${DEFAULT-VALUE})")
    String component;

    @Option(names = "--keyspace", defaultValue = "", paramLabel = "NAME", description = "keyspace, if any")
    String keyspace;

    @Option(names = "--lease-seconds", defaultValue = "45", paramLabel = "S",
            description = "lease of the ttl key (default: ${DEFAULT-VALUE})")
    int leaseSeconds;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        RegistrationSettings settings;
        try {
            String host = DiscoveredBackend.ofAddress(addr).host();
            TopologyInfo info = new TopologyInfo(serverVersion, "", host, statusPort, "",
                    Instant.now().getEpochSecond(), labels);
            settings = new RegistrationSettings(new TopologyPaths(component, keyspace), addr, info,
                    Duration.ofSeconds(leaseSeconds), RegistrationSettings.DEFAULT_REFRESH_INTERVAL,
                    RegistrationSettings.DEFAULT_REQUEST_TIMEOUT);
        } catch (RuntimeException e) {
            err.println("register: " + e.getMessage());
            return 2;
        }
        EtcdConnection client = EtcdConnection.connect(etcd);
        TopologyRegistrar registrar = new TopologyRegistrar(client, settings);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            registrar.close();
            client.close();
            stopped.countDown();
        }, "register-shutdown"));
        registrar.start();
        out.println("registering " + registrar.ttlKey() + " in etcd " + String.join(",", etcd)
                + " (lease " + leaseSeconds + " s); SIGTERM or Ctrl-C deletes it");
        out.flush();
        stopped.await();
        return 0;
    }
}
