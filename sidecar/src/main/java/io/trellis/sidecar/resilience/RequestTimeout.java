package io.trellis.sidecar.resilience;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.transport.BodyStreams;
import io.trellis.sidecar.transport.Upgrades;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * Bounds the wait for response headers, counted (as Envoy does) from the moment the whole request body has
 * been sent, so a long upload is not cut short while it is still flowing. When the deadline passes first the
 * caller gets {@code upstream-timeout}, and a response arriving later has its body discarded so the upstream
 * stream is released. Timers run on Pekko's scheduler, never on a request thread.
 */
public final class RequestTimeout {
    private final Scheduler scheduler;
    private final Materializer materializer;

    /** Timeouts scheduled on {@code scheduler}. */
    public RequestTimeout(Scheduler scheduler, Materializer materializer) {
        this.scheduler = scheduler;
        this.materializer = materializer;
    }

    /** Runs {@code attempt}, failing with {@code upstream-timeout} when no response came {@code timeout} from now. */
    public CompletionStage<HttpResponse> within(Duration timeout, String what, Supplier<CompletionStage<HttpResponse>> attempt) {
        return bounded(timeout, what, CompletableFuture.completedFuture(null), attempt);
    }

    /**
     * Sends {@code request} through {@code attempt} with its body watched, failing with {@code upstream-timeout}
     * when no response came {@code timeout} after the body was sent in full (at once for a body that is whole).
     */
    public CompletionStage<HttpResponse> afterBody(HttpRequest request, Duration timeout, String what,
            Function<HttpRequest, CompletionStage<HttpResponse>> attempt) {
        CompletableFuture<Void> bodySent = new CompletableFuture<>();
        if (!BodyStreams.streamed(request.entity()) || Upgrades.isUpgrade(request)) {
            // An upgrade's body is the upgraded connection's bytes: the answer (101) is due as soon as the head is sent.
            bodySent.complete(null);
        }
        HttpRequest watched = BodyStreams.watch(request, BodyStreams.onEnd(readToEnd -> bodySent.complete(null)));
        return bounded(timeout, what, bodySent, () -> attempt.apply(watched));
    }

    private CompletionStage<HttpResponse> bounded(Duration timeout, String what, CompletionStage<?> requestSent,
            Supplier<CompletionStage<HttpResponse>> attempt) {
        CompletableFuture<HttpResponse> result = new CompletableFuture<>();
        AtomicReference<Cancellable> timer = new AtomicReference<>();
        requestSent.whenComplete((sent, error) -> {
            if (!result.isDone()) {
                timer.set(scheduler.scheduleOnce(timeout, () -> result.completeExceptionally(new ProxyException(
                        ProxyError.UPSTREAM_TIMEOUT, what + " did not answer within " + timeout.toMillis() + " ms")),
                        materializer.executionContext()));
            }
        });
        attempt.get().whenComplete((response, error) -> {
            Cancellable scheduled = timer.get();
            if (scheduled != null) {
                scheduled.cancel();
            }
            boolean won = error == null ? result.complete(response) : result.completeExceptionally(error);
            if (!won && response != null) {
                response.discardEntityBytes(materializer);
            }
        });
        return result;
    }
}
