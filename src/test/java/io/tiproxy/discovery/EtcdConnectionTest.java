package io.tiproxy.discovery;

import io.etcd.jetcd.Client;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * When {@link EtcdConnection} replaces its client. Real jetcd clients towards a port nobody listens on
 * (building one does not connect); the outcomes are reported by hand, as the source and registrar do.
 */
class EtcdConnectionTest {
    private static final List<String> NOWHERE = List.of("127.0.0.1:1");

    @Test
    void renewsTheClientOnlyAfterRequestsFailedForTheWholePeriod() throws Exception {
        AtomicInteger built = new AtomicInteger();
        try (EtcdConnection etcd = new EtcdConnection(() -> {
            built.incrementAndGet();
            return EtcdClients.connect(NOWHERE);
        }, EtcdClients.connect(NOWHERE), Duration.ofMillis(300))) {
            Client first = etcd.client();
            etcd.failed(first);
            etcd.failed(first);
            assertThat(etcd.client()).as("failing for less than the period").isSameAs(first);

            Thread.sleep(350);
            etcd.succeeded(); // an answer in between starts the count over
            etcd.failed(first);
            assertThat(etcd.client()).isSameAs(first);

            Thread.sleep(350);
            etcd.failed(first);
            Client second = etcd.client();
            assertThat(second).as("failing for the whole period").isNotSameAs(first);
            assertThat(built.get()).isEqualTo(1);

            etcd.failed(second);
            assertThat(etcd.client()).as("at most one renewal per period").isSameAs(second);
            Thread.sleep(350);
            etcd.failed(first); // a late failure of the old client changes nothing
            assertThat(etcd.client()).isSameAs(second);
            etcd.failed(second);
            assertThat(etcd.client()).as("the next period of failures").isNotSameAs(second);
            assertThat(built.get()).isEqualTo(2);
        }
    }

    @Test
    void aConnectionOfAGivenClientNeverRenewsIt() throws Exception {
        Client given = EtcdClients.connect(NOWHERE);
        try {
            EtcdConnection etcd = EtcdConnection.of(given);
            etcd.failed(given);
            Thread.sleep(50);
            etcd.failed(given);
            etcd.close();
            assertThat(etcd.client()).isSameAs(given);
        } finally {
            given.close();
        }
    }
}
