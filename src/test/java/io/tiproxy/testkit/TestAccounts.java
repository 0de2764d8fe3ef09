package io.tiproxy.testkit;

/** Accounts and database that every test server ({@link MariaDbServer}, {@link GaleraCluster}) has. */
public final class TestAccounts {
    /** Database created on first start. */
    public static final String DATABASE = "test";

    /** {@code mysql_native_password}, ALL PRIVILEGES ON *.* (no GRANT OPTION). */
    public static final String APP_USER = "app";
    public static final String APP_PASSWORD = "app-pass";

    /** {@code ed25519}, ALL ON test.*. Only MariaDB Connector/J can log in with it. */
    public static final String ED25519_USER = "eduser";
    public static final String ED25519_PASSWORD = "ed-pass";

    /** Service account for the proxy: SELECT on mysql.global_priv and mysql.user. */
    public static final String SERVICE_USER = "tiproxy_svc";
    public static final String SERVICE_PASSWORD = "svc-pass";

    /** Test harness admin: ALL PRIVILEGES ON *.* WITH GRANT OPTION (root itself is socket-auth only). */
    public static final String ADMIN_USER = "tiproxy_admin";
    public static final String ADMIN_PASSWORD = "admin-pass";

    private TestAccounts() {
    }

    /** The SQL that creates the database and the accounts above on a fresh server. */
    static String setupSql() {
        return String.join("\n",
                "CREATE DATABASE IF NOT EXISTS " + DATABASE + ";",
                createUser(ADMIN_USER, "mysql_native_password", ADMIN_PASSWORD),
                "GRANT ALL PRIVILEGES ON *.* TO '" + ADMIN_USER + "'@'%' WITH GRANT OPTION;",
                createUser(APP_USER, "mysql_native_password", APP_PASSWORD),
                "GRANT ALL PRIVILEGES ON *.* TO '" + APP_USER + "'@'%';",
                "INSTALL SONAME 'auth_ed25519';",
                createUser(ED25519_USER, "ed25519", ED25519_PASSWORD),
                "GRANT ALL PRIVILEGES ON " + DATABASE + ".* TO '" + ED25519_USER + "'@'%';",
                createUser(SERVICE_USER, "mysql_native_password", SERVICE_PASSWORD),
                "GRANT SELECT ON mysql.global_priv TO '" + SERVICE_USER + "'@'%';",
                "GRANT SELECT ON mysql.user TO '" + SERVICE_USER + "'@'%';",
                "FLUSH PRIVILEGES;");
    }

    private static String createUser(String user, String plugin, String password) {
        return "CREATE USER '" + user + "'@'%' IDENTIFIED VIA " + plugin
                + " USING PASSWORD('" + password + "');";
    }
}
