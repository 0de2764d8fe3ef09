package io.tiproxy.balance.observer;

/** A backend changed state; {@code previous} is null for a newly discovered backend. */
public record BackendEvent(BackendInfo previous, BackendInfo current) {}
