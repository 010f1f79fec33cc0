package io.trellis.sidecar.transport.netty;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.junit.jupiter.api.Test;

class ParsedValuesTest {
    private final AtomicInteger parses = new AtomicInteger();
    private final Function<String, ContentType> counted = value -> {
        parses.incrementAndGet();
        return ContentTypes.parse(value);
    };

    @Test
    void aRecurringValueIsParsedOnceAndGivesTheSameParsedForm() {
        ParsedValues<ContentType> values = new ParsedValues<>(counted, 4);

        ContentType first = values.parse("text/plain; charset=UTF-8");
        ContentType second = values.parse("text/plain; charset=UTF-8");

        assertThat(second).isSameAs(first).isEqualTo(ContentTypes.TEXT_PLAIN_UTF8);
        assertThat(parses).hasValue(1);
    }

    @Test
    void valuesBeyondTheBoundAreParsedEachTimeAndNotKept() {
        ParsedValues<ContentType> values = new ParsedValues<>(counted, 2);
        for (int i = 0; i < 10; i++) {
            values.parse("application/x-type-" + i);
        }

        values.parse("application/x-type-9");

        assertThat(values.size()).isEqualTo(2);
        assertThat(parses).hasValue(11);
    }

    @Test
    void aValueLongerThanTheLimitIsNotKept() {
        ParsedValues<ContentType> values = new ParsedValues<>(counted, 4);
        String longType = "application/x-" + "a".repeat(ParsedValues.MAX_VALUE_LENGTH);

        values.parse(longType);
        values.parse(longType);

        assertThat(values.size()).isZero();
        assertThat(parses).hasValue(2);
    }

    @Test
    void aValueThatDoesNotParseFailsEachTimeAndIsNotKept() {
        ParsedValues<ContentType> values = new ParsedValues<>(counted, 4);

        assertThatThrownBy(() -> values.parse("not a media type")).isInstanceOf(RuntimeException.class);
        assertThatThrownBy(() -> values.parse("not a media type")).isInstanceOf(RuntimeException.class);

        assertThat(values.size()).isZero();
        assertThat(parses).hasValue(2);
    }
}
