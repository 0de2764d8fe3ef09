package io.tiproxy.server.api;

/** A request a route refuses: the client gets {@link #status()} and {@code {"error": message}}. */
public final class ApiException extends Exception {
    private final int status;

    /**
     * @param status  an HTTP error status, 400-599
     * @param message shown to the client, so it must not contain secrets
     */
    public ApiException(int status, String message) {
        super(message);
        if (status < 400 || status > 599) {
            throw new IllegalArgumentException("not an HTTP error status: " + status);
        }
        this.status = status;
    }

    /** 400 Bad Request. */
    public static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }

    /** 404 Not Found. */
    public static ApiException notFound(String message) {
        return new ApiException(404, message);
    }

    public int status() {
        return status;
    }
}
