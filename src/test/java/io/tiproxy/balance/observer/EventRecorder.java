package io.tiproxy.balance.observer;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/** Subscribes to an observer and keeps every event with the name of the thread it came on. */
final class EventRecorder implements Consumer<BackendEvent> {
    final List<BackendEvent> events = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();

    @Override
    public void accept(BackendEvent event) {
        events.add(event);
        threads.add(Thread.currentThread().getName());
    }

    /** The events of one backend, in delivery order. */
    List<BackendEvent> of(String address) {
        List<BackendEvent> out = new ArrayList<>();
        for (BackendEvent e : events) {
            if (e.current().address().equals(address)) {
                out.add(e);
            }
        }
        return out;
    }

    /** The states one backend went through, in order (the current state of each event). */
    List<BackendState> states(String address) {
        return of(address).stream().map(e -> e.current().state()).toList();
    }

    /** Whether the backend's latest event put it in {@code state}. */
    boolean lastIs(String address, BackendState state) {
        List<BackendEvent> list = of(address);
        return !list.isEmpty() && list.get(list.size() - 1).current().state() == state;
    }
}
