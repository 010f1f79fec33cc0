package io.trellis.controlplane.api;

import io.micronaut.context.annotation.Requires;
import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Produces;
import io.micronaut.http.server.exceptions.ExceptionHandler;
import io.trellis.controlplane.resource.InvalidResourceException;
import jakarta.inject.Singleton;
import java.util.List;

/** Maps {@link InvalidResourceException} to HTTP BAD_REQUEST {@code "invalid"}. */
@Produces
@Singleton
@Requires(classes = {InvalidResourceException.class, ExceptionHandler.class})
final class InvalidResourceHandler implements ExceptionHandler<InvalidResourceException, HttpResponse<?>> {
    @Override
    public HttpResponse<?> handle(HttpRequest request, InvalidResourceException e) {
        return ErrorBody.of(HttpStatus.BAD_REQUEST, "invalid", e.getMessage(), e.errors());
    }
}
