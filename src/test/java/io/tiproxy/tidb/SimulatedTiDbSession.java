package io.tiproxy.tidb;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tiproxy.tidb.SimPackets.Builder;
import io.tiproxy.tidb.SimPackets.Packet;
import io.tiproxy.tidb.SimPackets.Reader;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One client connection of a {@link SimulatedTiDb} (thread per connection, one command at a time; a
 * client's pipelined commands wait in the socket). Ordinary commands are relayed to a MariaDB connection;
 * prepared statement ids are TiDB's own (1, 2, ... per session) and mapped to MariaDB's.
 */
final class SimulatedTiDbSession implements Runnable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SERVER_STATUS_IN_TRANS = 0x0001;
    private static final int SERVER_MORE_RESULTS_EXISTS = 0x0008;
    private static final int SERVER_STATUS_CURSOR_EXISTS = 0x0040;
    private static final int ER_CANNOT_MIGRATE_SESSION = 8146;
    private static final int COM_QUIT = 0x01, COM_INIT_DB = 0x02, COM_QUERY = 0x03, COM_FIELD_LIST = 0x04,
            COM_CHANGE_USER = 0x11, COM_STMT_PREPARE = 0x16, COM_STMT_EXECUTE = 0x17, COM_STMT_SEND_LONG_DATA = 0x18,
            COM_STMT_CLOSE = 0x19, COM_STMT_RESET = 0x1a, COM_STMT_FETCH = 0x1c, COM_RESET_CONNECTION = 0x1f;
    private static final Pattern SHOW_STATES = Pattern.compile("(?is)\\s*SHOW\\s+SESSION_STATES\\s*;?\\s*");
    private static final Pattern SET_STATES = Pattern.compile("(?is)\\s*SET\\s+SESSION_STATES\\s+'(.*)'\\s*;?\\s*");
    private static final Pattern SET = Pattern.compile("(?is)\\s*SET\\s+(.*)");
    private static final Pattern ASSIGNMENT = Pattern.compile(
            "(?is)(@@(?:session\\.|local\\.)?|SESSION\\s+|LOCAL\\s+|@@global\\.|GLOBAL\\s+)?(@)?`?([A-Za-z0-9_$.]+)`?\\s*:?=.*");
    /** TiDB speaks MySQL 8's names; the fronted MariaDB 10.11 knows only the tx_ ones. */
    private static final Pattern MYSQL8_VARIABLES =
            Pattern.compile("(?i)(@@(?:session\\.|global\\.|local\\.)?)transaction_(isolation|read_only)");
    private static final Pattern USE = Pattern.compile("(?is)\\s*USE\\s+`?([^`;\\s]+)`?\\s*;?\\s*");
    private static final Pattern CREATE_TEMP = Pattern.compile("(?is)\\s*CREATE\\s+TEMPORARY\\s+TABLE.*");
    private static final Pattern DROP_TEMP = Pattern.compile("(?is)\\s*DROP\\s+TEMPORARY\\s+TABLE.*");

    /** A binary prepared statement: TiDB's id, MariaDB's id, and what TiDB keeps to restore it. */
    private static final class Stmt {
        long backendId;
        final String text;
        final String db;
        final int paramCount;
        byte[] types;
        boolean typesOnBackend;
        boolean longData;

        Stmt(long backendId, String text, String db, int paramCount) {
            this.backendId = backendId;
            this.text = text;
            this.db = db;
            this.paramCount = paramCount;
        }
    }

    private record Rows(List<String> names, List<Integer> types, List<Integer> charsets, List<String[]> rows) {}

    private static final class BackendError extends Exception {
        final int code;

        BackendError(int code, String message) {
            super(message, null, false, false);
            this.code = code;
        }
    }

    private final SimulatedTiDb server;
    private final Socket client;
    private Socket backend;
    private InputStream cin;
    private OutputStream cout;
    private InputStream bin;
    private OutputStream bout;
    private String user;
    private byte[] mariaSalt;
    private String db;
    private boolean deprecateEof;
    private int status = 0x0002;
    private boolean tempTables;
    private final Set<String> sysVarNames = new LinkedHashSet<>();
    private final Set<String> userVarNames = new LinkedHashSet<>();
    private final Map<Long, Stmt> stmts = new LinkedHashMap<>();
    private long lastStmtId;
    private volatile boolean idle;
    private volatile boolean closeWhenIdle;

    SimulatedTiDbSession(SimulatedTiDb server, Socket client) {
        this.server = server;
        this.client = client;
    }

    @Override
    public void run() {
        try {
            cin = new BufferedInputStream(client.getInputStream());
            cout = new BufferedOutputStream(client.getOutputStream());
            backend = new Socket(server.backend().host(), server.backend().port());
            backend.setTcpNoDelay(true);
            bin = new BufferedInputStream(backend.getInputStream());
            bout = new BufferedOutputStream(backend.getOutputStream());
            if (handshake()) {
                commandLoop();
            }
        } catch (IOException e) {
            // the peer went away
        } finally {
            closeNow();
        }
    }

    void closeWhenIdle() {
        closeWhenIdle = true;
        if (idle && (status & SERVER_STATUS_IN_TRANS) == 0) {
            closeNow();
        }
    }

    void closeNow() {
        closeQuietly(client);
        closeQuietly(backend);
    }

    private static void closeQuietly(Socket s) {
        try {
            if (s != null) {
                s.close();
            }
        } catch (IOException ignored) {
            // closing
        }
    }

    // ---- handshake -------------------------------------------------------------------------------

    private boolean handshake() throws IOException {
        Packet mariaGreeting = SimPackets.read(bin);
        if (mariaGreeting == null || mariaGreeting.isErr()) {
            return false;
        }
        byte[] salt = saltOf(mariaGreeting.payload());
        mariaSalt = salt;
        // TiDB's greeting; its salt is the fronted MariaDB's, so a relayed native login works unchanged
        byte[] greeting = new Builder().int1(10).stringNul(SimulatedTiDb.VERSION).int4(server.nextConnectionId())
                .bytes(Arrays.copyOf(salt, 8)).int1(0).int2((int) (SimulatedTiDb.CAPABILITIES & 0xffff)).int1(46)
                .int2(0x0002).int2((int) (SimulatedTiDb.CAPABILITIES >>> 16)).int1(21).zeros(10)
                .bytes(Arrays.copyOfRange(salt, 8, 20)).int1(0).stringNul("mysql_native_password").build();
        SimPackets.write(cout, 0, greeting);
        cout.flush();
        Packet response = SimPackets.read(cin);
        if (response == null) {
            return false;
        }
        Reader r = new Reader(response.payload(), 0);
        long caps = r.int4();
        if (response.payload().length == 32 || (caps & SimulatedTiDb.CLIENT_COMPRESS) != 0) {
            sendClient(response.seq() + 1, SimPackets.err(1105, "HY000", "the simulation supports neither TLS nor compression"));
            return false;
        }
        r.int4();
        r.int1();
        r.bytes(23);
        user = r.stringNul();
        byte[] auth;
        if ((caps & SimulatedTiDb.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) != 0) {
            auth = r.lenencBytes();
        } else {
            auth = r.bytes(r.int1());
        }
        db = (caps & SimulatedTiDb.CLIENT_CONNECT_WITH_DB) != 0 && r.more() ? r.stringNul() : null;
        String plugin = (caps & SimulatedTiDb.CLIENT_PLUGIN_AUTH) != 0 && r.more() ? r.stringNul() : "";
        deprecateEof = (caps & SimulatedTiDb.CLIENT_DEPRECATE_EOF) != 0;
        if (db != null && db.isEmpty()) {
            db = null;
        }
        return plugin.equals("tidb_session_token") ? tokenLogin(response.seq(), caps, auth) : relayLogin(response);
    }

    /** TIDB-FACTS "Migration exchange" 2: OK directly (no auth switch) or error 1045. */
    private boolean tokenLogin(int seq, long caps, byte[] token) throws IOException {
        String why = server.tokens().validate(token, user);
        String account = server.accountOf(user);
        String password = server.passwordOf(account);
        server.countTokenLogin(why == null && password != null);
        if (why != null || password == null) {
            sendClient(seq + 1, SimPackets.err(1045, "28000",
                    "Access denied for user '" + user + "'@'127.0.0.1' (using password: YES)"));
            return false;
        }
        long mariaCaps = (caps & ~(SimulatedTiDb.CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | SimulatedTiDb.CLIENT_CONNECT_ATTRS
                | SimulatedTiDb.CLIENT_CONNECT_WITH_DB | SimulatedTiDb.CLIENT_SESSION_TRACK))
                | SimulatedTiDb.CLIENT_PROTOCOL_41 | SimulatedTiDb.CLIENT_SECURE_CONNECTION | SimulatedTiDb.CLIENT_PLUGIN_AUTH
                | (db != null ? SimulatedTiDb.CLIENT_CONNECT_WITH_DB : 0);
        byte[] scramble = scramble(password, mariaSalt);
        Builder b = new Builder().int4(mariaCaps).int4(16 * 1024 * 1024).int1(46).zeros(23).stringNul(account)
                .int1(scramble.length).bytes(scramble);
        if (db != null) {
            b.stringNul(db);
        }
        SimPackets.write(bout, 1, b.stringNul("mysql_native_password").build());
        bout.flush();
        while (true) {
            Packet p = SimPackets.read(bin);
            if (p == null) {
                return false;
            }
            if (p.isOk()) {
                status = SimPackets.statusOf(p.payload());
                sendClient(seq + 1, SimPackets.ok(status, 0));
                return true;
            }
            if (p.isErr()) {
                sendClient(seq + 1, p.payload());
                return false;
            }
            if (p.first() != 0xfe) {
                sendClient(seq + 1, SimPackets.err(1105, "HY000", "unexpected packet from the fronted MariaDB"));
                return false;
            }
            Reader sw = new Reader(p.payload(), 1);
            sw.stringNul();
            byte[] newSalt = Arrays.copyOf(sw.bytes(p.payload().length - sw.pos), 20);
            SimPackets.write(bout, p.seq() + 1, scramble(password, newSalt));
            bout.flush();
        }
    }

    static byte[] scramble(String password, byte[] salt) {
        if (password.isEmpty()) {
            return new byte[0];
        }
        try {
            MessageDigest sha1 = MessageDigest.getInstance("SHA-1");
            byte[] h1 = sha1.digest(password.getBytes(StandardCharsets.UTF_8));
            byte[] h2 = sha1.digest(h1);
            sha1.update(salt, 0, 20);
            sha1.update(h2);
            byte[] h3 = sha1.digest();
            for (int i = 0; i < h3.length; i++) {
                h3[i] ^= h1[i];
            }
            return h3;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    private boolean relayLogin(Packet response) throws IOException {
        SimPackets.write(bout, response);
        bout.flush();
        while (true) {
            Packet p = SimPackets.read(bin);
            if (p == null) {
                return false;
            }
            sendClient(p.seq(), p.payload());
            if (p.isOk()) {
                status = SimPackets.statusOf(p.payload());
                return true;
            }
            if (p.isErr()) {
                return false;
            }
            Packet answer = SimPackets.read(cin);
            if (answer == null) {
                return false;
            }
            SimPackets.write(bout, answer);
            bout.flush();
        }
    }

    private static byte[] saltOf(byte[] greeting) {
        Reader r = new Reader(greeting, 1);
        r.stringNul();
        r.int4();
        byte[] salt1 = r.bytes(8);
        r.int1();
        r.int2();
        r.int1();
        r.int2();
        r.int2();
        int authLen = r.int1();
        r.bytes(10);
        byte[] salt2 = r.bytes(Math.max(13, authLen - 8) - 1);
        byte[] salt = new byte[salt1.length + salt2.length];
        System.arraycopy(salt1, 0, salt, 0, 8);
        System.arraycopy(salt2, 0, salt, 8, salt2.length);
        return salt;
    }

    private void sendClient(int seq, byte[] payload) throws IOException {
        SimPackets.write(cout, seq, payload);
        cout.flush();
    }

    // ---- command phase ---------------------------------------------------------------------------

    private void commandLoop() throws IOException {
        while (true) {
            idle = true;
            if (closeWhenIdle && (status & SERVER_STATUS_IN_TRANS) == 0) {
                return;
            }
            Packet p = SimPackets.read(cin);
            idle = false;
            if (p == null || p.payload().length == 0) {
                return;
            }
            switch (p.first()) {
                case COM_QUIT -> {
                    return;
                }
                case COM_QUERY -> onQuery(p);
                case COM_STMT_PREPARE -> onPrepare(p);
                case COM_STMT_EXECUTE -> onExecute(p);
                case COM_STMT_SEND_LONG_DATA, COM_STMT_CLOSE -> onStatementNoReply(p);
                case COM_STMT_RESET, COM_STMT_FETCH -> onStatementWithReply(p);
                case COM_INIT_DB -> {
                    forward(p);
                    if (relaySingle().isOk()) {
                        db = new String(p.payload(), 1, p.payload().length - 1, StandardCharsets.UTF_8);
                    }
                }
                case COM_FIELD_LIST -> {
                    forward(p);
                    relayRowsUntilEof();
                }
                case COM_CHANGE_USER -> onChangeUser(p);
                case COM_RESET_CONNECTION -> {
                    forward(p);
                    if (relaySingle().isOk()) {
                        resetState();
                    }
                }
                default -> {
                    forward(p);
                    relaySingle();
                }
            }
            cout.flush();
        }
    }

    private void forward(Packet p) throws IOException {
        SimPackets.write(bout, p);
        bout.flush();
    }

    private void forward(int seq, byte[] payload) throws IOException {
        SimPackets.write(bout, seq, payload);
        bout.flush();
    }

    private Packet relayOne() throws IOException {
        Packet p = SimPackets.read(bin);
        if (p == null) {
            throw new IOException("the fronted MariaDB closed the connection");
        }
        SimPackets.write(cout, p);
        return p;
    }

    private Packet relaySingle() throws IOException {
        Packet p = relayOne();
        if (p.isOk() || p.first() == 0xfe) {
            status = SimPackets.statusOf(p.payload());
        }
        return p;
    }

    private void relayRowsUntilEof() throws IOException {
        while (true) {
            Packet p = relayOne();
            if (p.isErr()) {
                return;
            }
            if (p.isEofOrTerminator(deprecateEof)) {
                status = SimPackets.statusOf(p.payload());
                return;
            }
        }
    }

    /** Relays a text or binary result (possibly several); true unless an ERR ended it. */
    private boolean relayResult() throws IOException {
        while (true) {
            Packet first = relayOne();
            if (first.isErr()) {
                return false;
            }
            if (first.isOk()) {
                status = SimPackets.statusOf(first.payload());
                if ((status & SERVER_MORE_RESULTS_EXISTS) != 0) {
                    continue;
                }
                return true;
            }
            if (first.first() == 0xfb) { // LOCAL INFILE: the client's file, up to an empty packet
                cout.flush();
                Packet data;
                do {
                    data = SimPackets.read(cin);
                    if (data == null) {
                        throw new IOException("client closed during LOAD DATA LOCAL");
                    }
                    forward(data);
                } while (data.payload().length > 0);
                continue;
            }
            long columns = new Reader(first.payload(), 0).lenenc();
            for (long i = 0; i < columns; i++) {
                relayOne();
            }
            if (!deprecateEof) {
                Packet eof = relayOne();
                status = SimPackets.statusOf(eof.payload());
                if ((status & SERVER_STATUS_CURSOR_EXISTS) != 0) {
                    return true;
                }
            }
            while (true) {
                Packet row = relayOne();
                if (row.isErr()) {
                    return false;
                }
                if (row.isEofOrTerminator(deprecateEof)) {
                    status = SimPackets.statusOf(row.payload());
                    break;
                }
            }
            if ((status & SERVER_MORE_RESULTS_EXISTS) == 0) {
                return true;
            }
        }
    }

    // ---- COM_QUERY ---------------------------------------------------------------------------------

    private void onQuery(Packet p) throws IOException {
        String sql = new String(p.payload(), 1, p.payload().length - 1, StandardCharsets.UTF_8);
        if (SHOW_STATES.matcher(sql).matches()) {
            showSessionStates();
            return;
        }
        Matcher restore = SET_STATES.matcher(sql);
        if (restore.matches()) {
            setSessionStates(unescape(restore.group(1)));
            return;
        }
        String forMariaDb = MYSQL8_VARIABLES.matcher(sql).replaceAll("$1tx_$2");
        if (!forMariaDb.equals(sql)) {
            p = new Packet(p.seq(), new Builder().int1(COM_QUERY).bytes(forMariaDb.getBytes(StandardCharsets.UTF_8)).build());
        }
        forward(p);
        if (!relayResult()) {
            return;
        }
        Matcher use = USE.matcher(sql);
        if (use.matches()) {
            db = use.group(1);
        } else if (CREATE_TEMP.matcher(sql).matches()) {
            tempTables = true;
        } else if (DROP_TEMP.matcher(sql).matches()) {
            tempTables = false;
        } else {
            Matcher set = SET.matcher(sql);
            if (set.matches()) {
                trackSet(set.group(1));
            }
        }
    }

    /** Remembers the names of session and user variables a successful SET assigned. */
    private void trackSet(String assignments) {
        String upper = assignments.stripLeading().toUpperCase(Locale.ROOT);
        if (upper.startsWith("NAMES") || upper.startsWith("CHARACTER SET") || upper.startsWith("CHARSET")) {
            sysVarNames.addAll(List.of("character_set_client", "character_set_connection", "character_set_results",
                    "collation_connection"));
            return;
        }
        for (String a : splitTopLevel(assignments)) {
            Matcher m = ASSIGNMENT.matcher(a.strip());
            if (!m.matches()) {
                continue;
            }
            String scope = m.group(1) == null ? "" : m.group(1).toLowerCase(Locale.ROOT);
            String name = m.group(3).toLowerCase(Locale.ROOT);
            if (scope.startsWith("@@global") || scope.startsWith("global")) {
                continue;
            }
            if (m.group(2) != null && scope.isEmpty()) {
                userVarNames.add(name);
            } else if (m.group(2) == null) {
                sysVarNames.add(name);
            }
        }
    }

    private static List<String> splitTopLevel(String s) {
        List<String> parts = new ArrayList<>();
        int depth = 0;
        char quote = 0;
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (quote != 0) {
                if (c == '\\') {
                    i++;
                } else if (c == quote) {
                    quote = 0;
                }
            } else if (c == '\'' || c == '"' || c == '`') {
                quote = c;
            } else if (c == '(') {
                depth++;
            } else if (c == ')') {
                depth--;
            } else if (c == ',' && depth == 0) {
                parts.add(s.substring(start, i));
                start = i + 1;
            }
        }
        parts.add(s.substring(start));
        return parts;
    }

    // ---- SHOW SESSION_STATES / SET SESSION_STATES ------------------------------------------------

    /** TIDB-FACTS "Migration exchange" 1 and "Session states JSON". */
    private void showSessionStates() throws IOException {
        server.countSessionStatesShown();
        String why = null;
        if ((status & SERVER_STATUS_IN_TRANS) != 0) {
            why = "active transaction";
        } else if (tempTables) {
            why = "local temporary tables";
        } else if (stmts.values().stream().anyMatch(st -> st.longData)) {
            why = "prepared statements have bound params";
        }
        byte[] token = null;
        if (why == null) {
            try {
                token = server.tokens().create(server.tokenUser(user));
            } catch (GeneralSecurityException e) {
                if (server.withoutCertificate() == SimulatedTiDb.WithoutCertificate.ERROR_8146
                        || server.tokens().hasCert()) {
                    why = e.getMessage();
                }
            }
        }
        if (why != null) {
            sendClient(1, SimPackets.err(ER_CANNOT_MIGRATE_SESSION, "HY000", "cannot migrate the current session: " + why));
            return;
        }
        String states;
        try {
            states = encodeStates();
        } catch (BackendError e) {
            sendClient(1, SimPackets.err(e.code, "HY000", e.getMessage()));
            return;
        }
        List<byte[][]> rows = new ArrayList<>();
        rows.add(new byte[][] {states.getBytes(StandardCharsets.UTF_8), token});
        sendResultSet(List.of("Session_states", "Session_token"), 0xf5, rows);
    }

    private String encodeStates() throws IOException, BackendError {
        ObjectNode root = JSON.createObjectNode();
        if (!userVarNames.isEmpty()) {
            List<String> names = new ArrayList<>(userVarNames);
            StringBuilder sql = new StringBuilder("SELECT ");
            for (int i = 0; i < names.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append("@`").append(names.get(i).replace("`", "``")).append('`');
            }
            Rows r = internalQuery(sql.toString());
            ObjectNode types = root.putObject("user-var-types");
            ObjectNode values = root.putObject("user-var-values");
            for (int i = 0; i < names.size(); i++) {
                ObjectNode t = types.putObject(names.get(i));
                t.put("Tp", r.types().get(i));
                t.put("Charset", r.charsets().get(i));
                values.put(names.get(i), r.rows().get(0)[i]);
            }
        }
        if (!sysVarNames.isEmpty()) {
            List<String> names = new ArrayList<>(sysVarNames);
            StringBuilder sql = new StringBuilder("SELECT ");
            for (int i = 0; i < names.size(); i++) {
                sql.append(i == 0 ? "" : ", ").append("@@session.`").append(names.get(i)).append('`');
            }
            Rows r = internalQuery(sql.toString());
            ObjectNode vars = root.putObject("sys-vars");
            for (int i = 0; i < names.size(); i++) {
                vars.put(names.get(i), r.rows().get(0)[i]);
            }
        }
        if (!stmts.isEmpty()) {
            ObjectNode ps = root.putObject("prepared-stmts");
            stmts.forEach((id, st) -> {
                ObjectNode o = ps.putObject(Long.toString(id));
                o.put("text", st.text);
                if (st.db != null) {
                    o.put("db", st.db);
                }
                if (st.types != null) {
                    o.put("types", Base64.getEncoder().encodeToString(st.types));
                }
            });
        }
        if (lastStmtId > 0) {
            root.put("prepared-stmt-id", lastStmtId);
        }
        String current = internalQuery("SELECT DATABASE()").rows().get(0)[0];
        if (current != null) {
            root.put("current-db", current);
        }
        return root.toString();
    }

    /** TIDB-FACTS "Migration exchange" 3: rebuilds the states on this session's MariaDB connection. */
    private void setSessionStates(String json) throws IOException {
        try {
            JsonNode root = JSON.readTree(json);
            String currentDb = root.path("current-db").asText("");
            if (!currentDb.isEmpty()) {
                internalQuery("USE `" + currentDb.replace("`", "``") + "`");
                db = currentDb;
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("sys-vars").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                internalQuery("SET SESSION `" + e.getKey() + "` = " + sysVarLiteral(e.getValue()));
                sysVarNames.add(e.getKey());
            }
            JsonNode types = root.path("user-var-types");
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("user-var-values").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                internalQuery("SET @`" + e.getKey().replace("`", "``") + "` = "
                        + userVarLiteral(e.getValue(), types.path(e.getKey())));
                userVarNames.add(e.getKey());
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = root.path("prepared-stmts").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                JsonNode info = e.getValue();
                String stmtDb = info.path("db").asText("");
                boolean otherDb = !stmtDb.isEmpty() && !stmtDb.equals(db);
                if (otherDb) {
                    internalQuery("USE `" + stmtDb.replace("`", "``") + "`");
                }
                Stmt st = internalPrepare(info.path("text").asText(), stmtDb.isEmpty() ? null : stmtDb);
                if (otherDb && db != null) {
                    internalQuery("USE `" + db.replace("`", "``") + "`");
                }
                if (info.hasNonNull("types")) {
                    st.types = Base64.getDecoder().decode(info.path("types").asText());
                }
                stmts.put(Long.parseLong(e.getKey()), st);
            }
            lastStmtId = Math.max(lastStmtId, root.path("prepared-stmt-id").asLong(0));
            sendClient(1, SimPackets.ok(status, 0));
        } catch (BackendError e) {
            sendClient(1, SimPackets.err(e.code, "HY000", e.getMessage()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            sendClient(1, SimPackets.err(1105, "HY000", "invalid session states: " + e.getOriginalMessage()));
        }
    }

    private static String sysVarLiteral(JsonNode v) {
        if (v.isNull()) {
            return "NULL";
        }
        String s = v.asText();
        return s.matches("-?\\d+(\\.\\d+)?") ? s : "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'";
    }

    private static String userVarLiteral(JsonNode v, JsonNode type) {
        if (v.isNull()) {
            return "NULL";
        }
        String s = v.asText();
        int tp = type.path("Tp").asInt(253);
        return switch (tp) {
            case 1, 2, 3, 8, 9, 0, 246 -> s;
            case 4, 5 -> s.contains("e") || s.contains("E") ? s : s + "E0";
            default -> (type.path("Charset").asInt(45) == 63 ? "" : "_utf8mb4 ")
                    + "X'" + HexFormat.of().formatHex(s.getBytes(StandardCharsets.UTF_8)) + "'";
        };
    }

    /** Undoes the escapes of a single-quoted SQL literal. */
    static String unescape(String lit) {
        StringBuilder b = new StringBuilder(lit.length());
        for (int i = 0; i < lit.length(); i++) {
            char c = lit.charAt(i);
            if (c == '\\' && i + 1 < lit.length()) {
                char n = lit.charAt(++i);
                b.append(switch (n) {
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    case 'r' -> '\r';
                    case '0' -> '\0';
                    default -> n;
                });
            } else if (c == '\'' && i + 1 < lit.length() && lit.charAt(i + 1) == '\'') {
                b.append('\'');
                i++;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    private void sendResultSet(List<String> names, int type, List<byte[][]> rows) throws IOException {
        int seq = 1;
        SimPackets.write(cout, seq++, new Builder().lenenc(names.size()).build());
        for (String name : names) {
            SimPackets.write(cout, seq++, new Builder().lenencString("def").lenencString("").lenencString("")
                    .lenencString("").lenencString(name).lenencString(name).int1(0x0c).int2(63).int4(0xffffffffL)
                    .int1(type).int2(0x0080).int1(0).int2(0).build());
        }
        if (!deprecateEof) {
            SimPackets.write(cout, seq++, SimPackets.eof(status));
        }
        for (byte[][] row : rows) {
            Builder b = new Builder();
            for (byte[] v : row) {
                if (v == null) {
                    b.int1(0xfb);
                } else {
                    b.lenencBytes(v);
                }
            }
            SimPackets.write(cout, seq++, b.build());
        }
        if (deprecateEof) {
            byte[] ok = SimPackets.ok(status, 0);
            ok[0] = (byte) 0xfe;
            SimPackets.write(cout, seq, ok);
        } else {
            SimPackets.write(cout, seq, SimPackets.eof(status));
        }
        cout.flush();
    }

    // ---- internal commands on the fronted MariaDB --------------------------------------------------

    private Rows internalQuery(String sql) throws IOException, BackendError {
        byte[] payload = new Builder().int1(COM_QUERY).bytes(sql.getBytes(StandardCharsets.UTF_8)).build();
        forward(0, payload);
        Packet first = readBackend();
        if (first.isErr()) {
            throw new BackendError(SimPackets.errorCode(first.payload()), SimPackets.errorMessage(first.payload()));
        }
        if (first.isOk()) {
            status = SimPackets.statusOf(first.payload());
            return new Rows(List.of(), List.of(), List.of(), List.of());
        }
        int n = (int) new Reader(first.payload(), 0).lenenc();
        List<String> names = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        List<Integer> charsets = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Reader c = new Reader(readBackend().payload(), 0);
            for (int k = 0; k < 4; k++) {
                c.lenencBytes();
            }
            names.add(c.lenencString());
            c.lenencBytes();
            c.lenenc();
            charsets.add(c.int2());
            c.int4();
            types.add(c.int1());
        }
        if (!deprecateEof) {
            readBackend();
        }
        List<String[]> rows = new ArrayList<>();
        while (true) {
            Packet row = readBackend();
            if (row.isErr()) {
                throw new BackendError(SimPackets.errorCode(row.payload()), SimPackets.errorMessage(row.payload()));
            }
            if (row.isEofOrTerminator(deprecateEof)) {
                status = SimPackets.statusOf(row.payload());
                break;
            }
            Reader r = new Reader(row.payload(), 0);
            String[] values = new String[n];
            for (int i = 0; i < n; i++) {
                values[i] = r.lenencString();
            }
            rows.add(values);
        }
        return new Rows(names, types, charsets, rows);
    }

    private Stmt internalPrepare(String text, String stmtDb) throws IOException, BackendError {
        forward(0, new Builder().int1(COM_STMT_PREPARE).bytes(text.getBytes(StandardCharsets.UTF_8)).build());
        Packet ok = readBackend();
        if (ok.isErr()) {
            throw new BackendError(SimPackets.errorCode(ok.payload()), SimPackets.errorMessage(ok.payload()));
        }
        Reader r = new Reader(ok.payload(), 1);
        long backendId = r.int4();
        int columns = r.int2();
        int params = r.int2();
        skipDefinitions(params, false);
        skipDefinitions(columns, false);
        return new Stmt(backendId, text, stmtDb, params);
    }

    /** Reads (relaying when asked) {@code n} definitions and, without DEPRECATE_EOF, their EOF. */
    private void skipDefinitions(int n, boolean relay) throws IOException {
        for (int i = 0; i < n; i++) {
            if (relay) {
                relayOne();
            } else {
                readBackend();
            }
        }
        if (n > 0 && !deprecateEof) {
            if (relay) {
                relayOne();
            } else {
                readBackend();
            }
        }
    }

    private Packet readBackend() throws IOException {
        Packet p = SimPackets.read(bin);
        if (p == null) {
            throw new IOException("the fronted MariaDB closed the connection");
        }
        return p;
    }

    // ---- binary prepared statements: TiDB's ids outside, MariaDB's inside --------------------------

    private void onPrepare(Packet p) throws IOException {
        forward(p);
        Packet first = SimPackets.read(bin);
        if (first == null) {
            throw new IOException("the fronted MariaDB closed the connection");
        }
        if (!first.isOk()) {
            SimPackets.write(cout, first);
            return;
        }
        Reader r = new Reader(first.payload(), 1);
        long backendId = r.int4();
        int columns = r.int2();
        int params = r.int2();
        long id = ++lastStmtId;
        String text = new String(p.payload(), 1, p.payload().length - 1, StandardCharsets.UTF_8);
        stmts.put(id, new Stmt(backendId, text, db, params));
        byte[] rewritten = first.payload().clone();
        putInt4(rewritten, 1, id);
        SimPackets.write(cout, first.seq(), rewritten);
        skipDefinitions(params, true);
        skipDefinitions(columns, true);
    }

    private void onExecute(Packet p) throws IOException {
        byte[] pl = p.payload().clone();
        long id = getInt4(pl, 1);
        Stmt st = stmts.get(id);
        if (st == null) {
            unknownStatement(p.seq(), id, "mysqld_stmt_execute");
            return;
        }
        putInt4(pl, 1, st.backendId);
        if (st.paramCount > 0) {
            int flagAt = 10 + (st.paramCount + 7) / 8;
            if (flagAt < pl.length && pl[flagAt] == 1) {
                st.types = Arrays.copyOfRange(pl, flagAt + 1, flagAt + 1 + 2 * st.paramCount);
                st.typesOnBackend = true;
            } else if (flagAt < pl.length && !st.typesOnBackend && st.types != null) {
                // restored statement: MariaDB has not seen the parameter types yet
                byte[] with = new byte[pl.length + st.types.length];
                System.arraycopy(pl, 0, with, 0, flagAt);
                with[flagAt] = 1;
                System.arraycopy(st.types, 0, with, flagAt + 1, st.types.length);
                System.arraycopy(pl, flagAt + 1, with, flagAt + 1 + st.types.length, pl.length - flagAt - 1);
                pl = with;
                st.typesOnBackend = true;
            }
        }
        st.longData = false;
        forward(p.seq(), pl);
        relayResult();
    }

    private void onStatementNoReply(Packet p) throws IOException {
        byte[] pl = p.payload().clone();
        long id = getInt4(pl, 1);
        Stmt st = stmts.get(id);
        if (st == null) {
            return;
        }
        putInt4(pl, 1, st.backendId);
        if (p.first() == COM_STMT_CLOSE) {
            stmts.remove(id);
        } else {
            st.longData = true;
        }
        forward(p.seq(), pl);
    }

    private void onStatementWithReply(Packet p) throws IOException {
        byte[] pl = p.payload().clone();
        long id = getInt4(pl, 1);
        Stmt st = stmts.get(id);
        if (st == null) {
            unknownStatement(p.seq(), id, p.first() == COM_STMT_RESET ? "mysqld_stmt_reset" : "mysqld_stmt_fetch");
            return;
        }
        putInt4(pl, 1, st.backendId);
        forward(p.seq(), pl);
        if (p.first() == COM_STMT_RESET) {
            st.longData = false;
            relaySingle();
        } else {
            relayRowsUntilEof();
        }
    }

    private void unknownStatement(int seq, long id, String where) throws IOException {
        sendClient(seq + 1, SimPackets.err(1243, "HY000",
                "Unknown prepared statement handler (" + id + ") given to " + where));
    }

    private void onChangeUser(Packet p) throws IOException {
        Reader r = new Reader(p.payload(), 1);
        String newUser = r.stringNul();
        forward(p);
        while (true) {
            Packet reply = relayOne();
            cout.flush();
            if (reply.isOk()) {
                user = newUser;
                resetState();
                return;
            }
            if (reply.isErr()) {
                return;
            }
            Packet answer = SimPackets.read(cin);
            if (answer == null) {
                throw new IOException("client closed during COM_CHANGE_USER");
            }
            forward(answer);
        }
    }

    private void resetState() {
        sysVarNames.clear();
        userVarNames.clear();
        stmts.clear();
        tempTables = false;
    }

    private static long getInt4(byte[] p, int at) {
        return (p[at] & 0xffL) | (p[at + 1] & 0xffL) << 8 | (p[at + 2] & 0xffL) << 16 | (p[at + 3] & 0xffL) << 24;
    }

    private static void putInt4(byte[] p, int at, long v) {
        for (int i = 0; i < 4; i++) {
            p[at + i] = (byte) (v >> (8 * i));
        }
    }
}
