package io.tiproxy.manager.config;

/**
 * {@code balance.policy}: which factors decide where sessions go, in which order (TiProxy's values).
 * Every order starts with status (sessions leave backends that take no new ones) and ends with session count.
 */
public enum BalancePolicy implements ConfigEnum {
    /** Status, load, location, session count (TiProxy's default). */
    RESOURCE("resource"),
    /** Status, location, load, session count: sessions stay in the proxy's zone first. */
    LOCATION("location"),
    /** Status, session count only. */
    CONNECTION("connection");

    private final String configName;

    BalancePolicy(String configName) {
        this.configName = configName;
    }

    @Override
    public String configName() {
        return configName;
    }
}
