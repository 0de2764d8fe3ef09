package io.tiproxy.protocol;

/** A packet that does not follow the protocol: truncated, bad length, unknown marker. */
public final class MalformedPacketException extends RuntimeException {
    public MalformedPacketException(String message) {
        super(message);
    }
}
