package io.tiproxy.proxy;

import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import io.tiproxy.testkit.TestProxy;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A well-behaved session that keeps querying through the proxy while a test attacks it from other
 * connections: every answer is checked, every error kept. Also the waits these tests share.
 */
final class Bystander implements AutoCloseable {
    private final Connection connection;
    private final Thread thread;
    private final AtomicInteger queries = new AtomicInteger();
    private final List<String> errors = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;

    private Bystander(Connection connection, Duration pause) {
        this.connection = connection;
        this.thread = new Thread(() -> loop(pause.toMillis()), "bystander");
        thread.setDaemon(true);
    }

    /** Logs in through {@code proxy} and queries every {@code pause} until closed. */
    static Bystander start(TestProxy proxy, Duration pause) throws SQLException {
        Connection c = DriverManager.getConnection(proxy.mariadbUrl(""), TestAccounts.APP_USER, TestAccounts.APP_PASSWORD);
        Bystander b = new Bystander(c, pause);
        b.thread.start();
        return b;
    }

    private void loop(long pauseMillis) {
        try (PreparedStatement ps = connection.prepareStatement("SELECT ? * 2")) {
            for (int i = 1; running; i++) {
                try {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        if (rs.getInt(1) != 2 * i) {
                            errors.add("query " + i + " answered " + rs.getInt(1));
                        }
                    }
                    queries.incrementAndGet();
                } catch (SQLException e) {
                    errors.add("query " + i + ": " + e.getMessage());
                }
                Thread.sleep(pauseMillis);
            }
        } catch (SQLException e) {
            errors.add("prepare: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops querying and checks that every query worked (and that there were some). */
    void stopAndAssertUnharmed() throws InterruptedException {
        running = false;
        thread.join(30_000);
        assertThat(errors).as("bystander errors").isEmpty();
        assertThat(queries.get()).as("bystander queries").isPositive();
    }

    int queries() {
        return queries.get();
    }

    @Override
    public void close() throws SQLException {
        running = false;
        connection.close();
    }

    /** Waits until {@code value} is at most {@code expected}; fails with {@code what} after {@code timeout}. */
    static void awaitAtMost(String what, IntSupplier value, int expected, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int last = value.getAsInt();
        while (last > expected && System.nanoTime() < deadline) {
            Thread.sleep(100);
            last = value.getAsInt();
        }
        assertThat(last).as(what + " within " + timeout.toSeconds() + " s").isLessThanOrEqualTo(expected);
    }

    /** Waits until {@code value} is at least {@code expected}; fails with {@code what} after {@code timeout}. */
    static void awaitAtLeast(String what, IntSupplier value, int expected, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int last = value.getAsInt();
        while (last < expected && System.nanoTime() < deadline) {
            Thread.sleep(100);
            last = value.getAsInt();
        }
        assertThat(last).as(what + " within " + timeout.toSeconds() + " s").isGreaterThanOrEqualTo(expected);
    }

    /** Waits until {@code condition} holds; fails with {@code what} after {@code timeout}. */
    static void await(String what, BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        boolean met = condition.getAsBoolean();
        while (!met && System.nanoTime() < deadline) {
            Thread.sleep(100);
            met = condition.getAsBoolean();
        }
        assertThat(met).as(what + " within " + timeout.toSeconds() + " s").isTrue();
    }

    /** The backend's {@code Threads_connected}, counting the admin connection that asks. */
    static int threadsConnected(MariaDbServer server) {
        try (Connection c = server.rootConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SHOW GLOBAL STATUS LIKE 'Threads_connected'")) {
            rs.next();
            return rs.getInt(2);
        } catch (SQLException e) {
            throw new IllegalStateException(server + ": " + e.getMessage(), e);
        }
    }
}
