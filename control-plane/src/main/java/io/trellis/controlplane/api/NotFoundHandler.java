package io.trellis.controlplane.api;

import io.micronaut.context.annotation.Requires;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import io.trellis.controlplane.store.NotFoundException;
import jakarta.inject.Singleton;
import java.util.List;

/** Maps {@link NotFoundException} to HTTP NOT_FOUND {@code "not-found"}. */
@Produces
@Singleton
@Requires(classes = {NotFoundException.class, ExceptionHandler.class})
final class NotFoundHandler implements ExceptionHandler<NotFoundException, HttpResponse<?>> {
    @Override
    public HttpResponse<?> handle(HttpRequest request, NotFoundException e) {
        return ErrorBody.of(HttpStatus.NOT_FOUND, "not-found", e.getMessage(), List.of());
    }
}
