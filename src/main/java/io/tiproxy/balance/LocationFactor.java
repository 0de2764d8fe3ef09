package io.tiproxy.balance;

import java.util.List;

/**
 * Sessions prefer backends in this proxy's zone: a backend is local when its topology label
 * {@value #ZONE_LABEL} equals the proxy's zone (TiProxy's location factor). Neutral when the proxy has no
 * zone, or for backends without labels (static ones): then every backend counts as local.
 */
final class LocationFactor implements Factor {
    static final String NAME = "location";
    static final String ZONE_LABEL = "zone";

    private final String zone;
    private final double rate;

    LocationFactor(String zone, double rate) {
        this.zone = zone;
        this.rate = rate;
    }

    @Override
    public String name() {
        return NAME;
    }

    boolean local(BackendView backend) {
        if (zone.isEmpty() || backend.labels().isEmpty()) {
            return true;
        }
        return zone.equals(backend.labels().get(ZONE_LABEL));
    }

    @Override
    public int score(BackendView backend) {
        return local(backend) ? 0 : 1;
    }

    @Override
    public boolean worthStarting(BackendView from, BackendView to) {
        return !local(from) && local(to);
    }

    @Override
    public double migrationsPerSecond(List<BackendView> backends) {
        return rate;
    }
}
