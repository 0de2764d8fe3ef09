package io.tiproxy.proxy.net;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The source networks allowed to send a PROXY protocol header ({@code proxy.proxy-protocol-networks}).
 * A header claims another machine's address, so it is believed only from the load balancers an operator
 * lists here, as MariaDB's {@code proxy_protocol_networks} does. Entries are CIDR networks
 * ({@code 10.0.0.0/8}, {@code fd00::/8}), single addresses ({@code 10.1.2.3}) or {@code *} for every source.
 * An IPv4 client reaching an IPv6 socket ({@code ::ffff:10.1.2.3}) is matched as IPv4.
 */
public final class TrustedNetworks {
    /** Literal addresses only (never a host name), so parsing never asks DNS. */
    private static final Pattern IPV4_LITERAL = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern IPV6_LITERAL = Pattern.compile("[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*");

    private final List<String> entries;
    private final List<Cidr> networks;
    private final boolean everyone;

    private TrustedNetworks(List<String> entries, List<Cidr> networks, boolean everyone) {
        this.entries = entries;
        this.networks = networks;
        this.everyone = everyone;
    }

    /** Parses the configured entries; throws {@link IllegalArgumentException} naming the first bad one. */
    public static TrustedNetworks parse(List<String> entries) {
        List<Cidr> networks = new ArrayList<>();
        boolean everyone = false;
        for (String entry : entries) {
            if (entry.trim().equals("*")) {
                everyone = true;
            } else {
                networks.add(Cidr.parse(entry.trim()));
            }
        }
        return new TrustedNetworks(List.copyOf(entries), List.copyOf(networks), everyone);
    }

    /** The reason {@code entry} is not a valid network, or null when it is. */
    public static String problemWith(String entry) {
        if (entry.trim().equals("*")) {
            return null;
        }
        try {
            Cidr.parse(entry.trim());
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }

    /** The entries as configured, to recognise an unchanged list cheaply. */
    public List<String> entries() {
        return entries;
    }

    /** Whether a connection from {@code source} may send a PROXY header. */
    public boolean contains(SocketAddress source) {
        if (!(source instanceof InetSocketAddress inet) || inet.getAddress() == null) {
            return false;
        }
        if (everyone) {
            return true;
        }
        byte[] address = unmapped(inet.getAddress().getAddress());
        for (Cidr network : networks) {
            if (network.contains(address)) {
                return true;
            }
        }
        return false;
    }

    private static byte[] unmapped(byte[] address) {
        if (address.length != 16) {
            return address;
        }
        for (int i = 0; i < 10; i++) {
            if (address[i] != 0) {
                return address;
            }
        }
        if (address[10] != (byte) 0xff || address[11] != (byte) 0xff) {
            return address;
        }
        return new byte[] {address[12], address[13], address[14], address[15]};
    }

    @Override
    public String toString() {
        return String.join(",", entries);
    }

    /** One network: its address bytes (4 or 16) and prefix length. */
    private record Cidr(byte[] network, int prefix) {

        static Cidr parse(String text) {
            int slash = text.indexOf('/');
            String host = slash < 0 ? text : text.substring(0, slash);
            if (!IPV4_LITERAL.matcher(host).matches() && !IPV6_LITERAL.matcher(host).matches()) {
                throw new IllegalArgumentException("\"" + text + "\" is not a network: write a CIDR such as "
                        + "\"10.0.0.0/8\" or \"fd00::/8\", a single IP address, or \"*\"");
            }
            byte[] address = IPV4_LITERAL.matcher(host).matches() ? ipv4(host, text) : ipv6(host, text);
            int bits = address.length * 8;
            int prefix = bits;
            if (slash >= 0) {
                try {
                    prefix = Integer.parseInt(text.substring(slash + 1));
                } catch (NumberFormatException e) {
                    prefix = -1;
                }
                if (prefix < 0 || prefix > bits) {
                    throw new IllegalArgumentException("\"" + text + "\" has a bad prefix length: use 0 to " + bits);
                }
            }
            return new Cidr(address, prefix);
        }

        private static byte[] ipv4(String host, String text) {
            String[] parts = host.split("\\.");
            byte[] address = new byte[4];
            for (int i = 0; i < 4; i++) {
                int octet = Integer.parseInt(parts[i]);
                if (octet > 255) {
                    throw new IllegalArgumentException("\"" + text + "\" does not start with a valid IPv4 address");
                }
                address[i] = (byte) octet;
            }
            return address;
        }

        /** The host contains ':', so the JDK parses it as an IPv6 literal and never asks DNS. */
        private static byte[] ipv6(String host, String text) {
            try {
                return InetAddress.getByName(host).getAddress();
            } catch (UnknownHostException e) {
                throw new IllegalArgumentException("\"" + text + "\" does not start with a valid IPv6 address");
            }
        }

        boolean contains(byte[] address) {
            if (address.length != network.length) {
                return false;
            }
            int full = prefix / 8;
            for (int i = 0; i < full; i++) {
                if (address[i] != network[i]) {
                    return false;
                }
            }
            int rest = prefix % 8;
            if (rest == 0) {
                return true;
            }
            int mask = (0xff << (8 - rest)) & 0xff;
            return (address[full] & mask) == (network[full] & mask);
        }
    }
}
