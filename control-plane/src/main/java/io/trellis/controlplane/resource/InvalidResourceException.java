package io.trellis.controlplane.resource;

import java.util.List;
import java.util.stream.Collectors;

/** A resource document that was rejected as a whole; nothing of it was stored. */
public final class InvalidResourceException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final transient List<FieldError> errors;

    /** Creates the exception; {@code errors} must not be empty. */
    public InvalidResourceException(List<FieldError> errors) {
        super(errors.stream().map(FieldError::toString).collect(Collectors.joining("; ")));
        this.errors = List.copyOf(errors);
    }

    /** A single-field rejection. */
    public static InvalidResourceException of(String field, String message) {
        return new InvalidResourceException(List.of(new FieldError(field, message)));
    }

    /** Every rejected field, in document order. */
    public List<FieldError> errors() {
        return errors;
    }

    /** The same errors with {@code prefix} (e.g. {@code documents[2].}) before each field path. */
    public InvalidResourceException prefixed(String prefix) {
        return new InvalidResourceException(errors.stream()
                .map(e -> new FieldError(prefix + e.field(), e.message())).toList());
    }
}
