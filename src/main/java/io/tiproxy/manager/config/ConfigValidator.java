package io.tiproxy.manager.config;

import io.tiproxy.proxy.net.TrustedNetworks;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** Checks that span keys or reach outside the file (ranges, TLS pairs, files that must exist). */
final class ConfigValidator {
    private static final Set<String> WILDCARD_HOSTS = Set.of("0.0.0.0", "::", "0:0:0:0:0:0:0:0");

    /** One thing wrong with a config, at a dotted key path. */
    record Problem(String keyPath, String reason) {
    }

    private final List<Problem> problems = new ArrayList<>();

    private ConfigValidator() {
    }

    /** Every problem found, in file order of sections; empty when the config is usable. */
    static List<Problem> check(TiProxyConfig config) {
        ConfigValidator validator = new ConfigValidator();
        validator.checkProxy(config.proxy(), config.security().sqlTls());
        validator.checkApi(config.api(), config.proxy());
        validator.checkHealthCheck(config.healthCheck());
        validator.checkBalance(config.balance());
        validator.checkServerTls(config.security().serverTls());
        validator.checkServerHttpTls(config.security().serverHttpTls());
        validator.checkSqlTls(config.security().sqlTls());
        validator.checkLog(config.log().logFile());
        return List.copyOf(validator.problems);
    }

    private void checkProxy(ProxyConfig proxy, TlsConfig sqlTls) {
        if (proxy.maxConnections() < 0) {
            problem("proxy.max-connections", "must be 0 (no limit) or more, got " + proxy.maxConnections());
        }
        checkProxyProtocolNetworks(proxy);
        if (proxy.idleTimeout().isNegative()) {
            problem("proxy.idle-timeout", "must be 0 (never) or more, got " + proxy.idleTimeout());
        }
        if (proxy.maxHeapUsagePercent() < 0 || proxy.maxHeapUsagePercent() > 100) {
            problem("proxy.max-heap-usage-percent", "must be 0 (no guard) to 100, got " + proxy.maxHeapUsagePercent());
        }
        if (proxy.requireBackendTls() && !sqlTls.enabledAsClient()) {
            problem("proxy.require-backend-tls",
                    "is true but security.sql-tls is not enabled (set its ca, or skip-ca: true)");
        }
    }

    private void checkProxyProtocolNetworks(ProxyConfig proxy) {
        for (String network : proxy.proxyProtocolNetworks()) {
            String why = TrustedNetworks.problemWith(network);
            if (why != null) {
                problem("proxy.proxy-protocol-networks", why);
            }
        }
        if (proxy.proxyProtocol() == ProxyProtocol.V2 && proxy.proxyProtocolNetworks().isEmpty()) {
            // a header claims someone else's address: it is believed only from sources listed on purpose
            problem("proxy.proxy-protocol-networks", "is empty, so no load balancer may send the PROXY header that "
                    + "proxy.proxy-protocol \"v2\" expects: list their networks (\"*\" trusts every source)");
        }
    }

    private void checkApi(ApiConfig api, ProxyConfig proxy) {
        if (api.user().isEmpty() != api.password().isEmpty()) {
            problem(api.user().isEmpty() ? "api.password" : "api.user", "api.user and api.password are set together or not at all");
        }
        HostPort a = api.addr();
        HostPort b = proxy.addr();
        boolean sameHost = a.host().equals(b.host()) || WILDCARD_HOSTS.contains(a.host())
                || WILDCARD_HOSTS.contains(b.host());
        if (a.port() != 0 && a.port() == b.port() && sameHost) {
            problem("api.addr", "\"" + a + "\" clashes with proxy.addr \"" + b + "\"");
        }
    }


    private void checkHealthCheck(HealthCheckConfig health) {
        if (health.interval().isNegative()) {
            problem("health-check.interval", "must be 0 (no checks) or more, got " + health.interval());
        }
        if (health.timeout().isNegative() || health.timeout().isZero()) {
            problem("health-check.timeout", "must be more than 0, got " + health.timeout());
        }
        if (health.failThreshold() < 1) {
            problem("health-check.fail-threshold", "must be at least 1, got " + health.failThreshold());
        }
        if (health.recoverThreshold() < 1) {
            problem("health-check.recover-threshold", "must be at least 1, got " + health.recoverThreshold());
        }
    }

    private void checkBalance(BalanceConfig balance) {
        if (balance.maxConcurrentMigrations() < 1) {
            problem("balance.max-concurrent-migrations", "must be at least 1, got " + balance.maxConcurrentMigrations());
        }
        checkRate("balance.status.migrations-per-second", balance.status().migrationsPerSecond(), "0 (automatic)");
        checkRate("balance.location.migrations-per-second", balance.location().migrationsPerSecond(), "0 (none)");
        BalanceConfig.Load load = balance.load();
        if (load.sampleInterval().isNegative()) {
            problem("balance.load.sample-interval", "must be 0 (no sampling) or more, got " + load.sampleInterval());
        }
        if (load.busyThreads() < 1) {
            problem("balance.load.busy-threads", "must be at least 1, got " + load.busyThreads());
        }
        if (load.ratioPercent() <= 100) {
            problem("balance.load.ratio-percent", "must be more than 100 (a backend is never busier than itself), got "
                    + load.ratioPercent());
        }
        checkRate("balance.load.migrations-per-second", load.migrationsPerSecond(), "0 (none)");
        BalanceConfig.ConnCount conn = balance.connCount();
        if (conn.countRatioPercent() <= 100) {
            problem("balance.conn-count.count-ratio-percent", "must be more than 100, got " + conn.countRatioPercent());
        }
        if (conn.minGap() < 2) {
            problem("balance.conn-count.min-gap", "must be at least 2 (moving one session cannot narrow a gap of 1), got "
                    + conn.minGap());
        }
        checkRate("balance.conn-count.migrations-per-second", conn.migrationsPerSecond(), "0 (none)");
    }

    private void checkRate(String key, int rate, String zeroMeans) {
        if (rate < 0) {
            problem(key, "must be " + zeroMeans + " or more, got " + rate);
        }
    }

    private void checkServerHttpTls(TlsConfig tls) {
        String path = "security.server-http-tls";
        checkCertificatePair(tls, path);
        if (tls.require() && !tls.enabledAsServer()) {
            problem(path + ".require", "is true but cert and key are not set, so HTTPS cannot be offered");
        }
        checkFiles(tls, path);
    }

    private void checkServerTls(TlsConfig tls) {
        String path = "security.server-tls";
        checkCertificatePair(tls, path);
        if (tls.require() && !tls.enabledAsServer()) {
            problem(path + ".require", "is true but cert and key are not set, so TLS cannot be offered");
        }
        checkFiles(tls, path);
    }

    private void checkSqlTls(TlsConfig tls) {
        String path = "security.sql-tls";
        checkCertificatePair(tls, path);
        if (tls.require()) {
            problem(path + ".require", "applies to server-tls only; to require TLS to backends set "
                    + "proxy.require-backend-tls");
        }
        checkFiles(tls, path);
    }

    private void checkCertificatePair(TlsConfig tls, String path) {
        if (!tls.cert().isEmpty() && tls.key().isEmpty()) {
            problem(path + ".cert", "is set but key is not (set both or neither)");
        } else if (tls.cert().isEmpty() && !tls.key().isEmpty()) {
            problem(path + ".key", "is set but cert is not (set both or neither)");
        }
    }

    private void checkFiles(TlsConfig tls, String path) {
        checkFile(tls.cert(), path + ".cert");
        checkFile(tls.key(), path + ".key");
        checkFile(tls.ca(), path + ".ca");
    }

    private void checkFile(String file, String keyPath) {
        if (file.isEmpty()) {
            return;
        }
        try {
            Path path = Path.of(file);
            if (!Files.isRegularFile(path)) {
                problem(keyPath, "file \"" + file + "\" does not exist");
            } else if (!Files.isReadable(path)) {
                problem(keyPath, "file \"" + file + "\" is not readable");
            }
        } catch (InvalidPathException e) {
            problem(keyPath, "\"" + file + "\" is not a valid path");
        }
    }

    private void checkLog(LogFileConfig file) {
        if (file.maxSizeMb() < 1) {
            problem("log.log-file.max-size", "must be at least 1 (MiB), got " + file.maxSizeMb());
        }
        if (file.maxDays() < 0) {
            problem("log.log-file.max-days", "must be 0 (keep forever) or more, got " + file.maxDays());
        }
        if (file.maxBackups() < 0) {
            problem("log.log-file.max-backups", "must be 0 (keep all) or more, got " + file.maxBackups());
        }
    }

    private void problem(String keyPath, String reason) {
        problems.add(new Problem(keyPath, reason));
    }
}
