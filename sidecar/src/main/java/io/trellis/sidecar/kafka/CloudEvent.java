package io.trellis.sidecar.kafka;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Locale;

/**
 * A CloudEvents 1.0 event in structured JSON mode: what the sidecar publishes for its app. JSON data is embedded
 * as JSON (after checking it is JSON), text as a string, anything else base64 in {@code data_base64}. Extension
 * attributes: {@code traceparent} (W3C distributed tracing) and {@code correlationid} (the {@code x-request-id}).
 *
 * @param id unique per event
 * @param source the publishing workload's SPIFFE ID
 * @param type the event type
 * @param time when the sidecar accepted the event
 * @param dataContentType the media type of {@code data}
 * @param traceparent the W3C trace context, or null
 * @param correlationId the request id of the publish call, or null
 * @param data the payload as the app sent it
 */
public record CloudEvent(String id, String source, String type, Instant time, String dataContentType, String traceparent,
        String correlationId, byte[] data) {
    /** The media type of a structured-mode event. */
    public static final String MEDIA_TYPE = "application/cloudevents+json";
    private static final JsonFactory JSON = new JsonFactory();

    /**
     * The structured-mode JSON.
     *
     * @throws IllegalArgumentException when {@code dataContentType} says JSON and {@code data} is not JSON
     */
    public byte[] toJson() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(data.length + 400);
        try (JsonGenerator json = JSON.createGenerator(out)) {
            json.writeStartObject();
            json.writeStringField("specversion", "1.0");
            json.writeStringField("id", id);
            json.writeStringField("source", source);
            json.writeStringField("type", type);
            json.writeStringField("time", time.toString());
            json.writeStringField("datacontenttype", dataContentType);
            if (traceparent != null) {
                json.writeStringField("traceparent", traceparent);
            }
            if (correlationId != null) {
                json.writeStringField("correlationid", correlationId);
            }
            if (isJson(dataContentType)) {
                requireJson(data);
                json.writeFieldName("data");
                json.writeRawValue(new String(data, StandardCharsets.UTF_8));
            } else if (isText(dataContentType)) {
                json.writeStringField("data", new String(data, StandardCharsets.UTF_8));
            } else {
                json.writeFieldName("data_base64");
                json.writeBinary(data);
            }
            json.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** True for {@code application/json} and {@code +json} media types. */
    static boolean isJson(String mediaType) {
        String type = baseType(mediaType);
        return type.equals("application/json") || type.endsWith("+json");
    }

    private static boolean isText(String mediaType) {
        return baseType(mediaType).startsWith("text/");
    }

    private static String baseType(String mediaType) {
        int semicolon = mediaType.indexOf(';');
        return (semicolon < 0 ? mediaType : mediaType.substring(0, semicolon)).trim().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code data} through to the end: exactly one JSON value. */
    private static void requireJson(byte[] data) {
        try (JsonParser parser = JSON.createParser(data)) {
            if (parser.nextToken() == null) {
                throw new IllegalArgumentException("body: empty (expected JSON, as the content-type says)");
            }
            parser.skipChildren();
            if (parser.nextToken() != null) {
                throw new IllegalArgumentException("body: more than one JSON value (expected one, as the content-type says)");
            }
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("body: not valid JSON (" + e.getOriginalMessage() + "); the content-type says JSON");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
