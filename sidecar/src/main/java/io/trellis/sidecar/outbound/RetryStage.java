package io.trellis.sidecar.outbound;

import io.trellis.sidecar.config.Backoff;
import io.trellis.sidecar.config.ClusterPolicy;
import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import io.trellis.sidecar.pipeline.Stage;
import io.trellis.sidecar.resilience.RetryRule;
import io.trellis.sidecar.telemetry.ProxyMetrics;
import io.trellis.sidecar.transport.BodyStreams;
import io.trellis.sidecar.transport.PekkoFutures;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.stream.Materializer;

/**
 * Runs the attempts of one request (each through the rest of the pipeline: breaker, limits, balancer, endpoint)
 * and decides after each whether another is worth making and allowed:
 * <ul>
 *   <li>the result must meet a {@code retryOn} condition ({@link RetryRule}) and attempts must remain;</li>
 *   <li>a non-idempotent request is retried only when it provably never reached the app, unless the policy says
 *       {@code retryNonIdempotent};</li>
 *   <li>the body must be replayable: bodies up to {@code maxBufferedBody} are buffered first; a larger or
 *       unbounded body can be sent again only if no attempt ever started reading it;</li>
 *   <li>the wait (full-jitter backoff, or the upstream's {@code Retry-After}/{@code grpc-retry-pushback-ms})
 *       must end before the deadline, and the cluster's retry budget must allow it.</li>
 * </ul>
 * A needed retry that is not made is never silent: it is counted by reason and named in {@code trellis-retry},
 * together with the number of attempts.
 */
final class RetryStage implements Stage<OutboundCall> {
    /** How long a small body (at most maxBufferedBody) may take to arrive before it is buffered for replay. */
    private static final Duration BUFFERING_LIMIT = Duration.ofSeconds(30);

    private final Scheduler scheduler;
    private final Materializer materializer;
    private final ProxyMetrics metrics;
    private final LongSupplier nanoTicker;
    private final DoubleSupplier random;

    RetryStage(Scheduler scheduler, Materializer materializer, ProxyMetrics metrics, LongSupplier nanoTicker,
            DoubleSupplier random) {
        this.scheduler = scheduler;
        this.materializer = materializer;
        this.metrics = metrics;
        this.nanoTicker = nanoTicker;
        this.random = random;
    }

    @Override
    public CompletionStage<HttpResponse> apply(OutboundCall call, Next<OutboundCall> next) {
        ClusterPolicy.Retries policy = call.cluster().policy().retries();
        call.runtime().budget().requested();
        if (policy.attempts() == 0) {
            return next.handle(call.attempt(0, call.request()));
        }
        return replayable(call, policy.maxBufferedBody())
                .thenCompose(body -> new Attempts(call, next, policy, body).start());
    }

    /**
     * The request with its body buffered when its known length is small enough to replay; a body of unknown length
     * (chunked, or HTTP/2 without content-length, as every gRPC call) is recorded while the first attempt sends it, so
     * that it can be replayed if it ends within the limit, as Envoy does; a larger body streams once.
     */
    private CompletionStage<Body> replayable(OutboundCall call, long maxBuffered) {
        HttpRequest request = call.request();
        HttpEntity entity = request.entity();
        if (entity.isKnownEmpty() || entity.isStrict()) {
            return CompletableFuture.completedFuture(new Body(request, null, null));
        }
        if (entity.getContentLengthOption().isPresent() && entity.getContentLengthOption().getAsLong() <= maxBuffered) {
            // Buffering waits on the caller alone: a body that stalls (no byte for streamIdle) or takes longer than
            // the limit is the caller's request-timeout, never the upstream's fault.
            Duration idle = call.cluster().timeouts().streamIdle();
            HttpEntity watched = BodyStreams.watch(request, BodyStreams.idleTimeout(idle)).entity();
            return PekkoFutures.direct(watched.toStrict(BUFFERING_LIMIT.toMillis(), materializer))
                    .handle((strict, failure) -> {
                        if (failure == null) {
                            return new Body(request.withEntity(strict), null, null);
                        }
                        if (call.abandoned().toCompletableFuture().isDone()) {
                            throw new ProxyException(ProxyError.CLIENT_ABORTED, "the caller went away while sending its body");
                        }
                        throw new ProxyException(ProxyError.REQUEST_TIMEOUT, "the request body of "
                                + entity.getContentLengthOption().getAsLong() + " bytes did not arrive (no byte for "
                                + idle.toMillis() + " ms, or not all within " + BUFFERING_LIMIT.toSeconds() + " s)");
                    });
        }
        BodyStreams.Recording recording = entity.getContentLengthOption().isEmpty() ? new BodyStreams.Recording(maxBuffered) : null;
        AtomicBoolean read = new AtomicBoolean();
        HttpRequest sent = recording == null ? request : recording.record(request);
        return CompletableFuture.completedFuture(new Body(BodyStreams.watch(sent, BodyStreams.onStart(() -> read.set(true))),
                read, recording));
    }

    /**
     * The request to send on every attempt.
     *
     * @param read for a body that is not buffered: set once an attempt started reading it; null when buffered
     * @param recording the copy kept of a body of unknown length; null when there is none
     */
    private record Body(HttpRequest request, AtomicBoolean read, BodyStreams.Recording recording) {
        boolean canResend() {
            return read == null || !read.get() || recording != null && recording.replayable();
        }

        /**
         * Completes once {@link #canResend} is final: at once when nothing records the body or nobody read it, else
         * when the recording knows whether the body ended within its limit.
         */
        java.util.concurrent.CompletionStage<Void> settled() {
            return read == null || !read.get() || recording == null ? CompletableFuture.completedFuture(null) : recording.settled();
        }

        /** What the next attempt sends: the body itself while nobody read it, else its recorded copy. */
        HttpRequest forAttempt() {
            return read != null && read.get() && recording != null && recording.replayable() ? recording.replay(request) : request;
        }
    }

    /** The attempts of one request. */
    private final class Attempts {
        private final OutboundCall call;
        private final Next<OutboundCall> next;
        private final ClusterPolicy.Retries policy;
        private final Body body;
        private final Backoff backoff;
        private final CompletableFuture<HttpResponse> result = new CompletableFuture<>();

        Attempts(OutboundCall call, Next<OutboundCall> next, ClusterPolicy.Retries policy, Body body) {
            this.call = call;
            this.next = next;
            this.policy = policy;
            this.body = body;
            this.backoff = new Backoff(policy.backoffBase(), policy.backoffMax(), random);
        }

        CompletableFuture<HttpResponse> start() {
            run(0);
            return result;
        }

        private void run(int attempt) {
            next.handle(call.attempt(attempt, body.forAttempt()))
                    .whenComplete((response, failure) -> decide(attempt, response, failure));
        }

        private void decide(int attempt, HttpResponse response, Throwable failure) {
            Optional<String> condition = RetryRule.condition(response, failure, !call.cluster().external());
            if (condition.isEmpty() || !RetryRule.covered(policy, condition.get()) || attempt >= policy.attempts()) {
                finish(attempt, null, response, failure);
                return;
            }
            String service = call.cluster().name().name();
            boolean neverReached = RetryRule.neverReachedApp(condition.get());
            Duration wait = RetryRule.pushback(response).orElseGet(() -> backoff.delay(attempt));
            String skipped = null;
            if (!neverReached && !policy.retryNonIdempotent() && !RetryRule.idempotent(call.request().method())) {
                skipped = "non-idempotent";
            } else if (!body.canResend()) {
                if (!body.settled().toCompletableFuture().isDone()) {
                    // The peer answered before the caller finished sending (a sidecar refusing at once, its app
                    // down): decide again once the body has ended or outgrown the recording (the request's deadline
                    // still bounds the wait).
                    body.settled().thenRun(() -> decide(attempt, response, failure));
                    return;
                }
                skipped = "body-too-large";
            } else if (nanoTicker.getAsLong() + wait.toNanos() >= call.deadlineNanos()) {
                skipped = "deadline";
            } else if (!call.runtime().budget().tryRetry()) {
                skipped = "budget";
            }
            if (skipped != null) {
                metrics.retrySkipped(service, skipped);
                finish(attempt, skipped, response, failure);
                return;
            }
            metrics.retried(service);
            if (response != null) {
                response.discardEntityBytes(materializer);
            }
            scheduler.scheduleOnce(wait, () -> run(attempt + 1), materializer.executionContext());
        }

        private void finish(int attempt, String skipped, HttpResponse response, Throwable failure) {
            if (attempt > 0 || skipped != null) {
                call.context().retryNote("attempts=" + (attempt + 1) + (skipped == null ? "" : "; skipped=" + skipped));
            }
            if (failure == null) {
                result.complete(response);
            } else if ("budget".equals(skipped)) {
                result.completeExceptionally(RetryRule.budgetExhausted(call.cluster().name().toString(), failure));
            } else {
                result.completeExceptionally(failure);
            }
        }
    }
}
