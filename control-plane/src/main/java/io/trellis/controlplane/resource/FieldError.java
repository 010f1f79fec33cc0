package io.trellis.controlplane.resource;

/** One rejected field: its path in the document ({@code spec.retries.attempts}) and what was expected. */
public record FieldError(String field, String message) {
    @Override
    public String toString() {
        return field + ": " + message;
    }
}
