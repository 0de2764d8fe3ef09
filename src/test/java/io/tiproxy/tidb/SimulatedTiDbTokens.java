package io.tiproxy.tidb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * Session tokens of the <em>simulated</em> TiDB, as TIDB-FACTS "Session token" and TiDB's
 * {@code session_token.go} describe them: JSON {@code username}, {@code sign-time}, {@code expire-time}
 * (sign-time + 1 minute, RFC 3339 with nanoseconds), {@code signature} (base64) over the compact JSON of the
 * first three fields. Checking: signed by any certificate loaded in the last 25 minutes, not expired,
 * lifetime not longer than a minute, username equal ignoring case.
 */
final class SimulatedTiDbTokens {
    static final Duration LIFETIME = Duration.ofMinutes(1);
    /** LoadCertInterval (10 min) + oldCertValidTime (15 min). */
    static final Duration CERT_KEPT = Duration.ofMinutes(25);

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final DateTimeFormatter SECONDS = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss");

    private record Loaded(SimulatedTiDbSigningCert cert, Instant loadedAt) {}

    private final List<Loaded> certs = new ArrayList<>();
    private volatile Clock clock = Clock.systemUTC();

    synchronized void loadCert(SimulatedTiDbSigningCert cert) {
        certs.add(0, new Loaded(cert, clock.instant()));
    }

    synchronized void dropCerts() {
        certs.clear();
    }

    synchronized boolean hasCert() {
        return !certs.isEmpty();
    }

    synchronized SimulatedTiDbSigningCert latestCert() {
        return certs.isEmpty() ? null : certs.get(0).cert();
    }

    /** This TiDB's clock (tests skew it to age tokens, as a clock difference between TiDB servers would). */
    void setClock(Clock clock) {
        this.clock = clock;
    }

    Instant now() {
        return clock.instant();
    }

    /** A signed token, or an exception with TiDB's message when there is no certificate. */
    synchronized byte[] create(String username) throws GeneralSecurityException {
        if (certs.isEmpty()) {
            throw new GeneralSecurityException("no certificate or key file to sign the data");
        }
        OffsetDateTime sign = OffsetDateTime.ofInstant(clock.instant(), ZoneOffset.UTC);
        ObjectNode token = content(username, rfc3339Nano(sign), rfc3339Nano(sign.plus(LIFETIME)));
        byte[] signature = certs.get(0).cert().sign(compact(token));
        token.put("signature", Base64.getEncoder().encodeToString(signature));
        return compact(token);
    }

    /** Null when the token is good for {@code username}, else TiDB's reason. */
    synchronized String validate(byte[] tokenBytes, String username) {
        JsonNode t;
        OffsetDateTime signTime;
        OffsetDateTime expireTime;
        byte[] signature;
        try {
            t = JSON.readTree(tokenBytes);
            signTime = OffsetDateTime.parse(t.path("sign-time").asText());
            expireTime = OffsetDateTime.parse(t.path("expire-time").asText());
            signature = Base64.getDecoder().decode(t.path("signature").asText());
        } catch (Exception e) {
            return "malformed token: " + e.getMessage();
        }
        // clear the signature and marshal again to get the signed content
        byte[] content = compact(content(t.path("username").asText(), rfc3339Nano(signTime), rfc3339Nano(expireTime)));
        Instant now = clock.instant();
        boolean signed = false;
        for (Loaded l : certs) {
            if (now.isAfter(l.loadedAt().plus(CERT_KEPT))) {
                break;
            }
            if (l.cert().verify(content, signature)) {
                signed = true;
                break;
            }
        }
        if (!signed) {
            return certs.isEmpty() ? "no valid certificate to check the signature" : "signature verification failure";
        }
        if (now.isAfter(expireTime.toInstant())) {
            return "token expired " + expireTime;
        }
        if (signTime.toInstant().plus(LIFETIME).isBefore(now)) {
            return "token lifetime is too long " + signTime;
        }
        if (!username.equalsIgnoreCase(t.path("username").asText())) {
            return "username does not match " + username + " " + t.path("username").asText();
        }
        return null;
    }

    private static ObjectNode content(String username, String signTime, String expireTime) {
        ObjectNode n = JSON.createObjectNode();
        n.put("username", username);
        n.put("sign-time", signTime);
        n.put("expire-time", expireTime);
        return n;
    }

    private static byte[] compact(ObjectNode n) {
        return n.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** Go's time.RFC3339Nano: fraction without trailing zeros, 'Z' for UTC. */
    static String rfc3339Nano(OffsetDateTime t) {
        StringBuilder b = new StringBuilder(SECONDS.format(t));
        if (t.getNano() != 0) {
            String frac = String.format("%09d", t.getNano()).replaceAll("0+$", "");
            b.append('.').append(frac);
        }
        b.append(t.getOffset().equals(ZoneOffset.UTC) ? "Z" : t.getOffset().getId());
        return b.toString();
    }
}
