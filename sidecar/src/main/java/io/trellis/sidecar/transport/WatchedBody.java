package io.trellis.sidecar.transport;

import org.apache.pekko.http.javadsl.model.AttributeKey;
import org.apache.pekko.http.javadsl.model.HttpEntity;

/**
 * A streamed body whose engine runs {@link BodyWatcher}s where it reads the bytes, carried as an attribute of the
 * message whose entity it is. A stage that replaces or rebuilds the entity leaves the attribute behind with the old
 * entity, so {@link #entity} says whether the attribute still speaks for the message's body.
 */
public interface WatchedBody {
    /** The attribute of a request or response whose body arrived on a connection of this sidecar. */
    AttributeKey<WatchedBody> ATTRIBUTE = AttributeKey.create("trellis-watched-body", WatchedBody.class);

    /** True when {@code entity} is this body (the very entity that was made for it, not a rebuilt one). */
    boolean is(HttpEntity entity);

    /**
     * Adds {@code watcher}; false once the body is being read (a watcher added then would miss what passed), and the
     * caller then watches with a stream operator instead. Thread-safe.
     */
    boolean watch(BodyWatcher watcher);
}
