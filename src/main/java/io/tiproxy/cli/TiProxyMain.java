package io.tiproxy.cli;

import io.tiproxy.manager.config.ConfigException;
import io.tiproxy.manager.config.ConfigLoader;
import io.tiproxy.manager.config.TiProxyConfig;
import io.tiproxy.manager.logging.LoggingConfigurator;
import io.tiproxy.server.TiProxyServer;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code bin/tiproxy --config conf/proxy.yaml}: runs the proxy until SIGTERM or SIGINT. */
@Command(name = "tiproxy", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "MySQL-protocol proxy that keeps client sessions alive while backends come and go.")
public final class TiProxyMain implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "configuration file (YAML)")
    Path config;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TiProxyMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        TiProxyConfig cfg;
        try {
            cfg = config == null ? TiProxyConfig.defaults() : ConfigLoader.load(config);
        } catch (ConfigException e) {
            System.err.println("tiproxy: " + e.getMessage());
            return 2;
        }
        LoggingConfigurator.forSlf4j().apply(cfg.log());
        TiProxyServer server = new TiProxyServer(cfg, config);
        try {
            server.start();
        } catch (IllegalStateException e) {
            System.err.println("tiproxy: " + e.getMessage());
            server.close();
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "tiproxy-shutdown"));
        stopped.await();
        return 0;
    }
}
