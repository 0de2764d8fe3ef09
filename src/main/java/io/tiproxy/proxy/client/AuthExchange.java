package io.tiproxy.proxy.client;

/**
 * What the backend asked and the client answered when the session last authenticated (first login
 * or COM_CHANGE_USER). With the account's stored hash it yields the re-authentication credential for
 * mysql_native_password. Never logged.
 */
record AuthExchange(String user, String plugin, byte[] salt, byte[] response) {
    @Override
    public String toString() {
        return "AuthExchange[user=" + user + ", plugin=" + plugin + "]";
    }
}
