package io.trellis.controlplane.api;

import io.micronaut.context.annotation.Requires;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import io.trellis.controlplane.store.ConflictException;
import jakarta.inject.Singleton;
import java.util.List;

/** Maps {@link ConflictException} to HTTP CONFLICT {@code "conflict"}. */
@Produces
@Singleton
@Requires(classes = {ConflictException.class, ExceptionHandler.class})
final class ConflictHandler implements ExceptionHandler<ConflictException, HttpResponse<?>> {
    @Override
    public HttpResponse<?> handle(HttpRequest request, ConflictException e) {
        return ErrorBody.of(HttpStatus.CONFLICT, "conflict", e.getMessage(), List.of());
    }
}
