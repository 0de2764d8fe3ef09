package io.tiproxy.balance;

/** What the deciding factor says about moving a session from one backend to another (TiProxy's BalanceAdvice). */
public enum Advice {
    /** No factor tells the two apart: leave the sessions where they are. */
    NEUTRAL,
    /** The first factor that tells them apart prefers the source: never move there, whatever later factors say. */
    NEGATIVE,
    /** The first factor that tells them apart prefers the target: move, at that factor's rate. */
    POSITIVE
}
