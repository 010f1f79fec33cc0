package io.trellis.sidecar.pipeline;

import org.apache.pekko.http.javadsl.model.HttpRequest;

/** What every call carries, whatever its direction. */
public interface Call {
    /** The request as the next stage should see it. */
    HttpRequest request();

    /** The request's context. */
    RequestContext context();
}
