package io.tiproxy.proxy.backend;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The backends whose global defaults already give every new session the session tracking the proxy
 * relies on ({@code session_track_system_variables='*'}, {@code session_track_schema=ON},
 * {@code session_track_state_change=ON}, {@code session_track_transaction_info=CHARACTERISTICS}, e.g.
 * set in my.cnf). A login there needs no tracking {@code SET}: one statement less per connection.
 *
 * <p>The load sampler reads the globals with every sample, over its service-account connection; a
 * backend it cannot read counts as not covered, so without a service account, with sampling off or
 * after a failed sample, every login sends the {@code SET} as before. Lowering the globals at run time
 * is noticed at the next sample; sessions opened in between track less than the proxy expects.
 */
public final class TrackingDefaults {
    static final String QUERY = "SELECT @@global.session_track_system_variables, @@global.session_track_schema, "
            + "@@global.session_track_state_change, @@global.session_track_transaction_info";

    private final Set<String> covered = ConcurrentHashMap.newKeySet();

    /** True when new sessions on {@code backend} track everything without being asked. */
    public boolean covers(String backend) {
        return covered.contains(backend);
    }

    /** The answer to {@link #QUERY} from {@code backend}. */
    void report(String backend, QueryResult r) {
        if (sufficient(r)) {
            covered.add(backend);
        } else {
            covered.remove(backend);
        }
    }

    void forget(String backend) {
        covered.remove(backend);
    }

    void forgetAll() {
        covered.clear();
    }

    static boolean sufficient(QueryResult r) {
        if (r.isError() || r.rows().size() != 1) {
            return false;
        }
        return "*".equals(trim(r.text(0, 0))) && on(r.text(0, 1)) && on(r.text(0, 2))
                && "CHARACTERISTICS".equalsIgnoreCase(trim(r.text(0, 3)));
    }

    private static boolean on(String v) {
        String t = trim(v);
        return "1".equals(t) || "ON".equalsIgnoreCase(t);
    }

    private static String trim(String v) {
        return v == null ? null : v.trim();
    }
}
