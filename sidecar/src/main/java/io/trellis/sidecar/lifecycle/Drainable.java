package io.trellis.sidecar.lifecycle;

import java.time.Duration;
import java.util.concurrent.CompletionStage;

/** A listener that shutdown drains: first it stops accepting, then its open connections get until a deadline. */
public interface Drainable {
    /** Stops accepting connections; open ones keep going. */
    CompletionStage<Void> stopAccepting();

    /** Completes when every open connection has ended, closing those still open after {@code deadline}. */
    CompletionStage<Void> drain(Duration deadline);
}
