package io.tiproxy.balance.observer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The observer's one thread: all its state changes and all event deliveries run here, in order.
 * Work submitted after {@link #shutdown()} is dropped. A task that throws is logged (and, if it was an
 * illegal state transition, rethrown to a caller waiting in {@link #call}).
 */
final class ObserverThread {
    private static final Logger log = LoggerFactory.getLogger(ObserverThread.class);

    private final ScheduledExecutorService executor;
    private volatile Thread thread;

    ObserverThread(String name) {
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            thread = t;
            return t;
        });
    }

    void execute(Runnable task) {
        try {
            executor.execute(guarded(task));
        } catch (RejectedExecutionException e) {
            // shut down
        }
    }

    /** Runs {@code task} here after {@code delayMillis}; returns its handle, or null when shut down. */
    ScheduledFuture<?> schedule(Runnable task, long delayMillis) {
        try {
            return executor.schedule(guarded(task), delayMillis, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            return null; // shut down
        }
    }

    void scheduleAtFixedRate(Runnable task, long initialMillis, long periodMillis) {
        executor.scheduleAtFixedRate(guarded(task), initialMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * Runs {@code task} on this thread and waits for its result (directly when already on it). Returns
     * {@code ifShutDown} when the thread is shut down; rethrows what the task threw.
     */
    <T> T call(Callable<T> task, Duration timeout, T ifShutDown) {
        if (Thread.currentThread() == thread) {
            return callDirectly(task);
        }
        Future<T> future;
        try {
            future = executor.submit(task);
        } catch (RejectedExecutionException e) {
            return ifShutDown;
        }
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("backend observer did not answer within " + timeout);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    void shutdown() {
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static <T> T callDirectly(Callable<T> task) {
        try {
            return task.call();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    private static Runnable guarded(Runnable task) {
        return () -> {
            try {
                task.run();
            } catch (RuntimeException e) {
                log.error("backend observer task failed", e);
            }
        };
    }
}
