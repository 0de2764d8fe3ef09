package io.tiproxy.discovery;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** Named daemon threads for this package's background loops. */
final class DaemonThreads {
    private DaemonThreads() {
    }

    static ScheduledExecutorService singleScheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
