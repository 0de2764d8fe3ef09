package io.tiproxy.proxy.client;

import io.tiproxy.proxy.backend.Credential;

/**
 * What the backend asked and the client answered when the session last authenticated (first login
 * or COM_CHANGE_USER). With the account's stored hash it yields the re-authentication credential for
 * mysql_native_password; {@code derived} is that credential when the login already derived it. Never logged.
 */
record AuthExchange(String user, String plugin, byte[] salt, byte[] response, Credential.NativeHash derived) {

    /** An exchange the proxy only relayed: the credential is derived later, from the stored hash. */
    AuthExchange(String user, String plugin, byte[] salt, byte[] response) {
        this(user, plugin, salt, response, null);
    }

    @Override
    public String toString() {
        return "AuthExchange[user=" + user + ", plugin=" + plugin + "]";
    }
}
