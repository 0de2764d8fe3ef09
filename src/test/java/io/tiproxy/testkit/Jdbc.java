package io.tiproxy.testkit;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** Small JDBC reads the tests share. */
public final class Jdbc {
    private Jdbc() {}

    /** The first column of the first row of {@code sql}, as a string. */
    public static String stringOf(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1);
        }
    }
}
