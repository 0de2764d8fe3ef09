package io.tiproxy.session;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** What the lexer finds in statement text that session tracking does not report. */
class SqlClassifierTest {

    static SqlClassifier.Effects c(String sql) {
        return SqlClassifier.classify(sql.getBytes(StandardCharsets.UTF_8));
    }

    static boolean mayMatterInBuffer(String sql) {
        byte[] b = ("xx" + sql).getBytes(StandardCharsets.UTF_8);
        return SqlClassifier.mayMatter(io.netty.buffer.Unpooled.wrappedBuffer(b), 2, b.length - 2);
    }

    @Test
    void theFirstWordOfAPacketIsFoundWithoutTheLexerWhenPlainAndWithItOtherwise() {
        assertThat(mayMatterInBuffer("SELECT c FROM sbtest1 WHERE id=5")).isFalse();
        assertThat(mayMatterInBuffer("  set sql_mode = ''")).isTrue();
        assertThat(mayMatterInBuffer("Drop table t")).isTrue();
        assertThat(mayMatterInBuffer("SET(")).isTrue();
        assertThat(mayMatterInBuffer("SETTINGS")).as("a longer word").isFalse();
        assertThat(mayMatterInBuffer("/* hint */ SET x = 1")).as("a comment first: the lexer decides").isTrue();
        assertThat(mayMatterInBuffer("/* hint */ SELECT 1")).isFalse();
        assertThat(mayMatterInBuffer("(SELECT 1)")).isFalse();
        assertThat(mayMatterInBuffer("DROP TABLE t")).isTrue();
        assertThat(mayMatterInBuffer("")).isFalse();
    }

    @Test
    void plainQueriesAreSkippedWithoutLexing() {
        assertThat(SqlClassifier.mayMatter("SELECT c FROM sbtest1 WHERE id=5".getBytes(StandardCharsets.UTF_8))).isFalse();
        assertThat(c("SELECT c FROM t WHERE id = 1").isEmpty()).isTrue();
        assertThat(c("UPDATE t SET k = k + 1 WHERE id = 3").isEmpty()).isTrue();
    }

    @Test
    void userVariableAssignmentsInEveryForm() {
        assertThat(c("SET @a = 1, @B := 2, @@session.sql_mode = ''").assignedUserVars()).containsExactly("a", "b");
        assertThat(c("SELECT @x := 5, @y").assignedUserVars()).containsExactly("x");
        assertThat(c("SELECT id, c INTO @id, @c FROM t LIMIT 1").assignedUserVars()).containsExactly("id", "c");
        assertThat(c("SET @`odd name` = 3").assignedUserVars()).containsExactly("odd name");
        assertThat(c("SELECT @a = 1").assignedUserVars()).as("comparison, not assignment").isEmpty();
    }

    @Test
    void quotesAndCommentsHideLookalikes() {
        assertThat(c("SELECT 'SET @a = 1', \"@b := 2\", `@c`").assignedUserVars()).isEmpty();
        assertThat(c("SELECT 1 /* SET @a = 1 */ -- SET @b = 2\n# SET @c = 3\n").assignedUserVars()).isEmpty();
        assertThat(c("SELECT 'it''s @x := 1' FROM t").assignedUserVars()).isEmpty();
        assertThat(c("SELECT 'a\\' SET @q = 1 '").assignedUserVars()).isEmpty();
        assertThat(c("/*!40101 SET @saved = @@character_set_client */").assignedUserVars()).containsExactly("saved");
    }

    @Test
    void multiStatementsAreEachClassified() {
        SqlClassifier.Effects e = c("SET @a = 1; CREATE TEMPORARY TABLE tmp1 (x INT); SELECT GET_LOCK('lk', 10)");
        assertThat(e.assignedUserVars()).containsExactly("a");
        assertThat(e.tempTablesCreated()).containsExactly("tmp1");
        assertThat(e.locksTaken()).containsExactly("lk");
    }

    @Test
    void sqlPrepareAndDeallocate() {
        SqlClassifier.Effects p = c("PREPARE s1 FROM 'SELECT ? + 1'");
        assertThat(p.prepares()).containsExactly(new SqlClassifier.SqlPrepare("s1", "SELECT ? + 1", null));
        assertThat(c("PREPARE s2 FROM @q").prepares()).containsExactly(new SqlClassifier.SqlPrepare("s2", null, "q"));
        assertThat(c("DEALLOCATE PREPARE s1").deallocates()).containsExactly("s1");
        assertThat(c("DROP PREPARE s2").deallocates()).containsExactly("s2");
        assertThat(c("EXECUTE s1 USING @a").isEmpty()).isTrue();
    }

    @Test
    void temporaryTablesLocksAndXa() {
        assertThat(c("CREATE TEMPORARY TABLE IF NOT EXISTS db.T2 (x INT)").tempTablesCreated()).containsExactly("t2");
        assertThat(c("CREATE TABLE t3 (x INT)").tempTablesCreated()).isEmpty();
        assertThat(c("DROP TEMPORARY TABLE IF EXISTS t2, t4").tablesDropped()).containsExactly("t2", "t4");
        assertThat(c("SELECT RELEASE_LOCK('lk')").locksReleased()).containsExactly("lk");
        assertThat(c("SELECT RELEASE_ALL_LOCKS()").allLocksReleased()).isTrue();
        assertThat(c("SELECT GET_LOCK(CONCAT('a', id), 1) FROM t").unknownLock()).isTrue();
        assertThat(c("LOCK TABLES t WRITE").lockTables()).isTrue();
        assertThat(c("UNLOCK TABLES").lockTables()).isFalse();
        assertThat(c("XA START 'x1'").xaActive()).isTrue();
        assertThat(c("XA COMMIT 'x1'").xaActive()).isFalse();
        assertThat(c("LOAD DATA LOCAL INFILE '/tmp/f' INTO TABLE t").loadDataLocal()).isTrue();
        assertThat(c("LOAD DATA INFILE '/tmp/f' INTO TABLE t").loadDataLocal()).isFalse();
    }

    @Test
    void sessionVariablesAssignedBySet() {
        assertThat(c("SET autocommit=1, SESSION sql_mode = CONCAT(@@sql_mode, ',X'), @@session.time_zone = '+00:00', "
                + "@@max_join_size = 5, GLOBAL max_connections = 10, @@global.wait_timeout = 3, @u = 1")
                .assignedSessionVars()).containsExactly("autocommit", "sql_mode", "time_zone", "max_join_size");
        assertThat(c("SET NAMES utf8mb4").assignedSessionVars()).isEmpty();
        assertThat(c("set session_track_system_variables = concat(@@global.session_track_system_variables, ',x')")
                .assignedSessionVars()).containsExactly("session_track_system_variables");
    }

    @Test
    void trackedStatePinsAndReleases() {
        TrackedState s = new TrackedState("db");
        s.apply(c("CREATE TEMPORARY TABLE t1 (x INT)"));
        assertThat(s.pinnedReason()).contains("temporary tables");
        s.apply(c("DROP TABLE t1"));
        assertThat(s.pinnedReason()).isNull();
        s.apply(c("SELECT GET_LOCK('a', 1), GET_LOCK('b', 1)"));
        s.apply(c("SELECT RELEASE_LOCK('a')"));
        assertThat(s.pinnedReason()).contains("advisory locks");
        s.apply(c("SELECT RELEASE_LOCK('b')"));
        assertThat(s.pinnedReason()).isNull();
        s.apply(c("PREPARE p FROM @unknown"));
        assertThat(s.pinnedReason()).contains("text is unknown");
    }

    @Test
    void restoreSqlOrdersCharsetsFirstAndQuotesSafely() {
        TrackedState s = new TrackedState(null);
        s.onSystemVariable("autocommit", "OFF");
        s.onSystemVariable("max_join_size", "1000");
        s.onSystemVariable("character_set_results", "");
        s.onSystemVariable("sql_mode", "ANSI_QUOTES");
        s.onSystemVariable("init_connect", "it's");
        s.onSystemVariable("session_track_schema", "ON");
        assertThat(s.systemVariablesRestoreSql()).isEqualTo("SET SESSION character_set_results = NULL, "
                + "SESSION sql_mode = 'ANSI_QUOTES', SESSION max_join_size = 1000, SESSION init_connect = 'it''s', "
                + "SESSION autocommit = 'OFF'");
    }
}
