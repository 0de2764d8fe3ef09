package io.tiproxy.balance;

import java.util.List;

/**
 * Which factors the policy weighs, in which order (TiProxy's {@code balance.policy}). The first factor
 * that tells two backends apart decides whether a session moves between them; the ones after it are
 * not asked.
 */
public enum FactorOrder {
    /** Status, load, location, session count: a busy local backend sheds sessions to an idle remote one. */
    RESOURCE,
    /** Status, location, load, session count: sessions stay in this proxy's zone even when it is busier. */
    LOCATION,
    /** Status, session count: load and location are ignored. */
    CONNECTION;

    /** The factor names in the order they are asked. */
    List<String> factorNames() {
        return switch (this) {
            case RESOURCE -> List.of(StatusFactor.NAME, LoadFactor.NAME, LocationFactor.NAME, SessionCountFactor.NAME);
            case LOCATION -> List.of(StatusFactor.NAME, LocationFactor.NAME, LoadFactor.NAME, SessionCountFactor.NAME);
            case CONNECTION -> List.of(StatusFactor.NAME, SessionCountFactor.NAME);
        };
    }

    /** Whether this order reads backend load (so load samples are worth taking). */
    public boolean usesLoad() {
        return factorNames().contains(LoadFactor.NAME);
    }
}
