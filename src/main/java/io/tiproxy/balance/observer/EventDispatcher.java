package io.tiproxy.balance.observer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * Delivers {@link BackendEvent}s to subscribers on the observer thread, strictly in the order they
 * happened: an event caused by a listener (say, one that drains a backend from inside its callback) is
 * queued and delivered to everyone after the event being delivered. A listener that throws is logged
 * and keeps its subscription. Confined to the observer thread.
 */
final class EventDispatcher {
    private static final Logger log = LoggerFactory.getLogger(EventDispatcher.class);

    private final List<Consumer<BackendEvent>> subscribers = new CopyOnWriteArrayList<>();
    private final Queue<BackendEvent> pending = new ArrayDeque<>();
    private boolean delivering;

    /** Adds a subscriber, first giving it {@code initial} (one event per backend known now). */
    void subscribe(Consumer<BackendEvent> listener, List<BackendEvent> initial) {
        initial.forEach(e -> deliver(listener, e));
        subscribers.add(listener);
    }

    void unsubscribe(Consumer<BackendEvent> listener) {
        subscribers.remove(listener);
    }

    /** Queues an event and, unless a delivery is already under way up the stack, delivers all queued ones. */
    void post(BackendEvent event) {
        pending.add(event);
        if (delivering) {
            return;
        }
        delivering = true;
        try {
            BackendEvent next;
            while ((next = pending.poll()) != null) {
                for (Consumer<BackendEvent> subscriber : subscribers) {
                    deliver(subscriber, next);
                }
            }
        } finally {
            delivering = false;
        }
    }

    private static void deliver(Consumer<BackendEvent> listener, BackendEvent event) {
        try {
            listener.accept(event);
        } catch (RuntimeException e) {
            log.error("backend event listener failed on {}", event, e);
        }
    }
}
