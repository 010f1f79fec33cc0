package io.trellis.sidecar.pipeline;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.http.javadsl.model.HttpResponse;

/**
 * Stages in a fixed order, ending in a terminal stage that sends the request on. Built once; immutable. A
 * stage that throws instead of failing its future is treated as having failed it, so a bug in one stage
 * still yields a response.
 *
 * @param <C> what a call carries in this direction
 */
public final class Pipeline<C> implements Stage.Next<C> {
    private final Stage.Next<C> head;

    /** {@code stages} in order, then {@code terminal}. */
    public Pipeline(List<Stage<C>> stages, Stage.Next<C> terminal) {
        Stage.Next<C> next = guarded(terminal);
        for (int i = stages.size() - 1; i >= 0; i--) {
            Stage<C> stage = stages.get(i);
            Stage.Next<C> rest = next;
            next = guarded(call -> stage.apply(call, rest));
        }
        this.head = next;
    }

    @Override
    public CompletionStage<HttpResponse> handle(C call) {
        return head.handle(call);
    }

    private static <C> Stage.Next<C> guarded(Stage.Next<C> next) {
        return call -> {
            try {
                return next.handle(call);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        };
    }
}
