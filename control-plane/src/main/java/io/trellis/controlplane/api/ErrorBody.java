package io.trellis.controlplane.api;

import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.MediaType;
import io.micronaut.http.MutableHttpResponse;
import io.trellis.controlplane.resource.FieldError;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one shape of every API error: {@code {"error": code, "message": text, "fields": [...]}}. The codes
 * are stable and documented; messages are for people.
 */
final class ErrorBody {
    private ErrorBody() {
    }

    static MutableHttpResponse<Map<String, Object>> of(HttpStatus status, String code, String message,
            List<FieldError> fields) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", code);
        body.put("message", message);
        if (!fields.isEmpty()) {
            body.put("fields", fields);
        }
        return HttpResponse.<Map<String, Object>>status(status).body(body).contentType(MediaType.APPLICATION_JSON_TYPE);
    }
}
