package io.trellis.controlplane.store;

import java.time.Instant;

/** A certificate the CA issued: hex serial, SPIFFE ID, validity end, and which root signed it. */
public record CertificateRecord(String serial, String identity, Instant issuedAt, Instant notAfter, String rootId) {
}
