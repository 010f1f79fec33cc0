package io.trellis.sidecar.transport;

import java.util.function.UnaryOperator;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * Watching or bounding a streamed body without buffering it: the body's bytes pass through an operator and the
 * entity is rebuilt with the same content type and length (or chunked when the length is unknown). Bodies that
 * arrived whole (strict or empty) are returned untouched: nothing streams, so there is nothing to watch.
 */
public final class BodyStreams {
    private BodyStreams() {
    }

    /** True when {@code entity} streams (its bytes are not all in memory). */
    public static boolean streamed(HttpEntity entity) {
        return !entity.isKnownEmpty() && !entity.isStrict();
    }

    /** {@code request} with its streamed body's bytes passed through {@code operator}. */
    public static HttpRequest mapRequest(HttpRequest request, UnaryOperator<Source<ByteString, Object>> operator) {
        HttpEntity entity = request.entity();
        if (!streamed(entity)) {
            return request;
        }
        Source<ByteString, Object> data = operator.apply(entity.getDataBytes());
        return request.withEntity(entity.getContentLengthOption().isPresent()
                ? HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), data)
                : HttpEntities.createChunked(entity.getContentType(), data));
    }

    /** {@code response} with its streamed body's bytes passed through {@code operator}. */
    public static HttpResponse mapResponse(HttpResponse response, UnaryOperator<Source<ByteString, Object>> operator) {
        ResponseEntity entity = response.entity();
        if (!streamed(entity)) {
            return response;
        }
        Source<ByteString, Object> data = operator.apply(entity.getDataBytes());
        return response.withEntity(entity.getContentLengthOption().isPresent()
                ? HttpEntities.create(entity.getContentType(), entity.getContentLengthOption().getAsLong(), data)
                : HttpEntities.createChunked(entity.getContentType(), data));
    }
}
