package io.trellis.sidecar.pipeline;

import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * One step of a request path (route, authorize, forward, count...). A stage may answer itself, or pass a
 * (possibly changed) call to {@code next}. Stages never block; they fail their future with a
 * {@link io.trellis.sidecar.errors.ProxyException} to make the sidecar answer with an error.
 *
 * @param <C> what a call carries in this direction
 */
public interface Stage<C> {
    /** Handles {@code call}, usually by calling {@code next}. */
    CompletionStage<HttpResponse> apply(C call, Next<C> next);

    /** The rest of the pipeline after a stage. */
    interface Next<C> {
        /** Runs the remaining stages. */
        CompletionStage<HttpResponse> handle(C call);
    }
}
