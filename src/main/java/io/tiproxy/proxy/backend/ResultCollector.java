package io.tiproxy.proxy.backend;

import io.netty.buffer.ByteBuf;
import io.netty.util.concurrent.Promise;
import io.tiproxy.protocol.Packets;
import io.tiproxy.protocol.Wire;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a {@link QueryResult} from the packets of one response (COM_QUERY text result sets, OK, ERR,
 * or a COM_STMT_PREPARE OK), and completes a promise when the command tracker says the response ended.
 * Meant for the proxy's own small queries: everything is copied.
 */
public final class ResultCollector implements CommandTracker.ResponseListener {
    private final Promise<QueryResult> promise;
    private final boolean prepare;
    private int errorCode;
    private String errorMessage;
    private final List<String> names = new ArrayList<>();
    private final List<Integer> types = new ArrayList<>();
    private final List<byte[][]> rows = new ArrayList<>();
    private long columns = -1;
    private long statementId = -1;
    private boolean first = true;

    public ResultCollector(Promise<QueryResult> promise, boolean prepare) {
        this.promise = promise;
        this.prepare = prepare;
    }

    @Override
    public void onResponsePacket(ByteBuf buf, int start) {
        int len = Wire.payloadLength(buf, start);
        ByteBuf p = buf.slice(start + Wire.HEADER_SIZE, len);
        int header = len == 0 ? -1 : p.getUnsignedByte(0);
        if (header == Packets.ERR_HEADER) {
            errorCode = p.getUnsignedShortLE(1);
            int skip = len >= 9 && p.getByte(3) == '#' ? 9 : 3;
            errorMessage = p.toString(skip, len - skip, StandardCharsets.UTF_8);
            return;
        }
        if (first) {
            first = false;
            if (prepare && header == Packets.OK_HEADER) {
                statementId = p.getUnsignedIntLE(1);
                return;
            }
            if (header != Packets.OK_HEADER && header != Packets.EOF_HEADER) {
                columns = Wire.readIntLenenc(p.duplicate());
            }
            return;
        }
        if (prepare || columns < 0) {
            return;
        }
        if (names.size() < columns) {
            column(p, len);
        } else if (header != Packets.EOF_HEADER || len >= Wire.MAX_PAYLOAD) {
            // 0xFE starts an EOF or the closing OK; a row starts with it only when at least 16 MiB long
            row(p);
        }
    }

    private void column(ByteBuf p, int len) {
        ByteBuf d = p.duplicate();
        for (int i = 0; i < 4; i++) {
            Wire.readBytesLenenc(d); // catalog, schema, table, org table
        }
        names.add(Wire.readStringLenenc(d));
        // the fixed 13-byte block ends the definition: 0x0c, charset(2), length(4), type(1), flags(2), decimals(1), filler(2)
        types.add((int) p.getUnsignedByte(len - 6));
    }

    private void row(ByteBuf p) {
        ByteBuf d = p.duplicate();
        byte[][] values = new byte[(int) columns][];
        for (int i = 0; i < columns; i++) {
            values[i] = Wire.readBytesLenenc(d);
        }
        rows.add(values);
    }

    @Override
    public void onResponseEnd() {
        promise.trySuccess(new QueryResult(errorCode, errorMessage, List.copyOf(names), List.copyOf(types),
                List.copyOf(rows), statementId));
    }
}
