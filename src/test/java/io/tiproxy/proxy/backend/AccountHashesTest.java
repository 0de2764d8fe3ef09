package io.tiproxy.proxy.backend;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.Future;
import io.tiproxy.manager.config.BackendConfig;
import io.tiproxy.manager.config.ProxyProtocol;
import io.tiproxy.protocol.NativePassword;
import io.tiproxy.proxy.client.BackendAddress;
import io.tiproxy.proxy.net.Transport;
import io.tiproxy.testkit.MariaDbCluster;
import io.tiproxy.testkit.MariaDbServer;
import io.tiproxy.testkit.TestAccounts;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Stored password hashes read from a real MariaDB with the service account. */
class AccountHashesTest {
    static final Transport TRANSPORT = Transport.best();
    static EventLoopGroup group;
    static MariaDbServer server;

    @BeforeAll
    static void start() {
        group = TRANSPORT.newGroup(2, "hashes-test");
        server = MariaDbCluster.shared().server(2);
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    static long serviceLogins() throws Exception {
        try (var c = server.rootConnection(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT TOTAL_CONNECTIONS FROM information_schema.USER_STATISTICS WHERE USER = '"
                     + TestAccounts.SERVICE_USER + "'")) {
            return rs.next() ? rs.getLong(1) : 0;
        }
    }

    @Test
    void concurrentLookupsOfOneUserShareOneServiceLoginAndAllGetTheHash() throws Exception {
        server.execAsAdmin("SET GLOBAL userstat = ON");
        try {
            AccountHashes hashes = new AccountHashes(TRANSPORT,
                    () -> new BackendConfig(TestAccounts.SERVICE_USER, TestAccounts.SERVICE_PASSWORD, ProxyProtocol.NONE),
                    () -> List.of(server.address()), BackendAddress::parse, () -> null);
            long before = serviceLogins();
            List<Future<List<byte[]>>> lookups = new ArrayList<>();
            for (int i = 0; i < 40; i++) {
                // from both event loops, as sessions of one drain would ask
                lookups.add(hashes.lookup(group.next(), TestAccounts.APP_USER));
            }
            byte[] pw = TestAccounts.APP_PASSWORD.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            byte[] expected = NativePassword.sha1(NativePassword.sha1(pw));
            for (Future<List<byte[]>> f : lookups) {
                assertThat(f.await(10, TimeUnit.SECONDS)).isTrue();
                assertThat(f.isSuccess()).as(String.valueOf(f.cause())).isTrue();
                assertThat(f.getNow()).anySatisfy(h -> assertThat(h).isEqualTo(expected));
            }
            assertThat(serviceLogins() - before).as("service logins for 40 lookups").isEqualTo(1);
        } finally {
            server.execAsAdmin("SET GLOBAL userstat = OFF");
        }
    }
}
