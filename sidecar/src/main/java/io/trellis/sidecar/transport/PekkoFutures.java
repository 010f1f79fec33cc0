package io.trellis.sidecar.transport;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import scala.concurrent.ExecutionContext;
import scala.concurrent.Future;
import scala.jdk.javaapi.FutureConverters;

/**
 * Adapts the futures Pekko's Java API returns so that callbacks run on the thread that completes them.
 *
 * <p>Pekko's {@code CompletionStage}s wrap Scala futures in a {@code CompletableFuture} subclass that turns
 * every {@code thenApply}/{@code whenComplete} into its {@code ...Async} twin on the JDK's common pool. On a
 * machine with two cores (a typical sidecar CPU limit) the common pool has parallelism 1, and the JDK then
 * starts a new thread for every such callback: measured at one thread per proxied request and a quarter of
 * the throughput. Every Pekko future on the request path goes through {@link #direct} first.
 */
public final class PekkoFutures {
    private PekkoFutures() {
    }

    /** {@code stage} as a plain future whose dependents run on the completing thread (no executor hop). */
    public static <T> CompletableFuture<T> direct(CompletionStage<T> stage) {
        Future<T> underlying = FutureConverters.asScala(stage);
        CompletableFuture<T> result = new CompletableFuture<>();
        underlying.onComplete(outcome -> {
            if (outcome.isSuccess()) {
                result.complete(outcome.get());
            } else {
                result.completeExceptionally(outcome.failed().get());
            }
            return null;
        }, ExecutionContext.parasitic$.MODULE$);
        return result;
    }
}
