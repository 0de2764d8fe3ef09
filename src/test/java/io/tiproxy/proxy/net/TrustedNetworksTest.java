package io.tiproxy.proxy.net;

import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TrustedNetworksTest {

    private static boolean trusts(List<String> networks, String ip) {
        return TrustedNetworks.parse(networks).contains(new InetSocketAddress(ip, 1234));
    }

    @Test
    void cidrNetworksMatchByPrefix() {
        List<String> nets = List.of("10.0.0.0/8", "192.168.1.128/25", "fd00::/8");
        assertThat(trusts(nets, "10.200.3.4")).isTrue();
        assertThat(trusts(nets, "11.0.0.1")).isFalse();
        assertThat(trusts(nets, "192.168.1.200")).isTrue();
        assertThat(trusts(nets, "192.168.1.127")).isFalse();
        assertThat(trusts(nets, "fd12::1")).isTrue();
        assertThat(trusts(nets, "fe80::1")).isFalse();
    }

    @Test
    void aSingleAddressIsItsOwnNetwork() {
        assertThat(trusts(List.of("127.0.0.1"), "127.0.0.1")).isTrue();
        assertThat(trusts(List.of("127.0.0.1"), "127.0.0.2")).isFalse();
        assertThat(trusts(List.of("::1"), "::1")).isTrue();
    }

    @Test
    void anIpv4ClientOnAnIpv6SocketMatchesIpv4Networks() {
        assertThat(trusts(List.of("10.0.0.0/8"), "::ffff:10.1.2.3")).isTrue();
    }

    @Test
    void starTrustsEverySourceAndEmptyTrustsNone() {
        assertThat(trusts(List.of("*"), "203.0.113.9")).isTrue();
        assertThat(trusts(List.of(), "127.0.0.1")).isFalse();
    }

    @Test
    void badEntriesAreNamed() {
        assertThat(TrustedNetworks.problemWith("10.0.0.0/33")).contains("10.0.0.0/33").contains("0 to 32");
        assertThat(TrustedNetworks.problemWith("300.1.1.1")).contains("not start with a valid IPv4 address");
        assertThat(TrustedNetworks.problemWith("lb.example.com")).contains("is not a network");
        assertThat(TrustedNetworks.problemWith("10.0.0")).contains("is not a network");
        assertThat(TrustedNetworks.problemWith("fd00::/129")).contains("0 to 128");
        assertThat(TrustedNetworks.problemWith("10.0.0.0/x")).contains("bad prefix length");
        assertThat(TrustedNetworks.problemWith("10.0.0.0/8")).isNull();
        assertThat(TrustedNetworks.problemWith("*")).isNull();
        assertThatThrownBy(() -> TrustedNetworks.parse(List.of("10.0.0.0/8", "nope")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("\"nope\"");
    }
}
