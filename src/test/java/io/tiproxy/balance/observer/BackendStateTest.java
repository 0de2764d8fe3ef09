package io.tiproxy.balance.observer;

import org.junit.jupiter.api.Test;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import static io.tiproxy.balance.observer.BackendState.DRAINING;
import static io.tiproxy.balance.observer.BackendState.HEALTHY;
import static io.tiproxy.balance.observer.BackendState.REMOVED;
import static io.tiproxy.balance.observer.BackendState.UNHEALTHY;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackendStateTest {
    /** The table of BackendState's Javadoc, written out once more. */
    private static final Map<BackendState, Set<BackendState>> LEGAL = Map.of(
            HEALTHY, EnumSet.of(UNHEALTHY, DRAINING, REMOVED),
            UNHEALTHY, EnumSet.of(HEALTHY, DRAINING, REMOVED),
            DRAINING, EnumSet.of(HEALTHY, UNHEALTHY, REMOVED),
            REMOVED, EnumSet.of(HEALTHY, UNHEALTHY));

    @Test
    void allowsExactlyTheDocumentedTransitions() {
        for (BackendState from : BackendState.values()) {
            for (BackendState to : BackendState.values()) {
                boolean legal = LEGAL.get(from).contains(to);
                assertThat(from.canMoveTo(to)).as(from + " -> " + to).isEqualTo(legal);
                if (!legal) {
                    assertThatThrownBy(() -> from.checkMoveTo(to))
                            .isInstanceOf(IllegalStateException.class)
                            .hasMessageContaining(from + " -> " + to);
                }
            }
        }
    }

    @Test
    void removedBackendCannotBeDrainedDirectly() {
        assertThatThrownBy(() -> REMOVED.checkMoveTo(DRAINING)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void onlyHealthyAcceptsNewSessions() {
        assertThat(EnumSet.allOf(BackendState.class).stream().filter(BackendState::acceptsNewSessions))
                .containsExactly(HEALTHY);
    }
}
