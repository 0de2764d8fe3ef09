package io.tiproxy.server.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;

/** The API's JSON mapping (thread-safe and stateless once built): records, maps, java.time values. */
final class ApiJson {
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .addModule(new JavaTimeModule())
            .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
            .build();

    private ApiJson() {
    }

    static byte[] write(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot render " + value.getClass().getName() + " as JSON", e);
        }
    }

    static <T> T read(byte[] json, Class<T> type) throws ApiException {
        try {
            return MAPPER.readValue(json, type);
        } catch (IOException e) {
            throw ApiException.badRequest("request body is not valid JSON for this endpoint: "
                    + originalMessage(e));
        }
    }

    private static String originalMessage(IOException e) {
        return e instanceof JsonProcessingException json ? json.getOriginalMessage() : e.getMessage();
    }
}
