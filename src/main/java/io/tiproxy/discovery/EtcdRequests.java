package io.tiproxy.discovery;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** Waits for jetcd requests with a bound; every failure becomes an {@link EtcdUnavailableException}. */
final class EtcdRequests {
    private EtcdRequests() {
    }

    static <T> T await(CompletableFuture<T> future, Duration timeout) throws EtcdUnavailableException {
        try {
            return future.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            future.cancel(true);
            throw new EtcdUnavailableException("no answer within " + timeout.toMillis() + " ms");
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() != null ? e.getCause() : e;
            throw new EtcdUnavailableException(cause.getClass().getSimpleName() + ": " + cause.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EtcdUnavailableException("interrupted");
        }
    }

    /** An etcd request failed or was not answered in time. */
    static final class EtcdUnavailableException extends Exception {
        EtcdUnavailableException(String message) {
            super(message, null, false, false);
        }
    }
}
