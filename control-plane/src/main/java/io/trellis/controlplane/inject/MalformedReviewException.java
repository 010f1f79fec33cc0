package io.trellis.controlplane.inject;

/** An AdmissionReview that cannot be answered: not JSON, not a v1 review, no uid. The message says which. */
public final class MalformedReviewException extends Exception {
    public MalformedReviewException(String message) {
        super(message);
    }
}
