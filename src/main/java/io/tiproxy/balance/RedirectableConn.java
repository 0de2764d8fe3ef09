package io.tiproxy.balance;

/** What the router needs of a session; implemented by the proxy's client connection. */
public interface RedirectableConn {
    long connectionId();

    /** "host:port" of the backend the session sits on, or null before it logged in. */
    String backendAddress();

    /** Asks the session to move (to {@code target}, or anywhere else when null) at its next safe point. */
    void redirect(String target, String reason);

    /** Closes a session that could not leave a backend that is going away, telling the client why. */
    void closeUnmovable(String backendState);
}
