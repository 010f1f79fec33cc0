package io.trellis.certs;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The little DER a workload's identity needs, without a library: writing a PKCS#10 request's structures and reading
 * a SAN extension or an SEC1 key. A sidecar has no other use for ASN.1, and BouncyCastle cost it a third of its live
 * heap (26.3 against 17.6 MiB idle), most of it the manifests of its signed jars, which the JDK keeps to verify each
 * class. Reading is strict (definite lengths in their shortest form, single-byte tags, every length inside its parent),
 * so an element read re-encodes to exactly its bytes, and throws {@link IOException} on anything else. Stateless.
 */
final class Der {
    static final int INTEGER = 0x02;
    static final int BIT_STRING = 0x03;
    static final int OCTET_STRING = 0x04;
    static final int OID = 0x06;
    static final int UTF8_STRING = 0x0C;
    static final int SEQUENCE = 0x30;
    static final int SET = 0x31;
    /** {@code [0]}, constructed: a PKCS#10 request's attributes, an SEC1 key's curve. */
    static final int CONTEXT_0 = 0xA0;
    /** {@code [6]} IMPLICIT IA5String: a GeneralName's URI. */
    static final int URI_NAME = 0x86;
    /** The constructed form of {@code [6]}, which DER never uses for a string. */
    static final int URI_NAME_CONSTRUCTED = 0xA6;

    private Der() {
    }

    /** One element: its tag and its contents, as read. */
    record Element(int tag, byte[] contents) {
        /** The elements inside a constructed element's contents, in order. */
        List<Element> children() throws IOException {
            return readAll(contents);
        }

        /** The element's bytes, exactly as read (DER has one encoding, and the reader takes no other). */
        byte[] encoded() {
            return tlv(tag, contents);
        }
    }

    /** Every element of {@code der}, which must be whole elements and nothing else. */
    static List<Element> readAll(byte[] der) throws IOException {
        List<Element> elements = new ArrayList<>();
        int at = 0;
        while (at < der.length) {
            int tag = der[at++] & 0xFF;
            if ((tag & 0x1F) == 0x1F) {
                throw new IOException("multi-byte DER tag");
            }
            if (at >= der.length) {
                throw new IOException("DER element without a length");
            }
            int first = der[at++] & 0xFF;
            long length = first;
            if (first == 0x80) {
                throw new IOException("indefinite DER length");
            }
            if (first > 0x80) {
                int octets = first & 0x7F;
                if (octets > 4 || at + octets > der.length) {
                    throw new IOException("DER length of " + octets + " octets");
                }
                length = 0;
                for (int i = 0; i < octets; i++) {
                    length = length << 8 | der[at++] & 0xFF;
                }
                if (length < 0x80 || length >> 8 * (octets - 1) == 0) {
                    throw new IOException("DER length not in its shortest form");
                }
            }
            if (length > der.length - at) {
                throw new IOException("DER element longer than what holds it");
            }
            byte[] contents = new byte[(int) length];
            System.arraycopy(der, at, contents, 0, contents.length);
            at += contents.length;
            elements.add(new Element(tag, contents));
        }
        return elements;
    }

    /** The single element {@code der} holds. */
    static Element read(byte[] der) throws IOException {
        List<Element> elements = readAll(der);
        if (elements.size() != 1) {
            throw new IOException("expected one DER element, found " + elements.size());
        }
        return elements.get(0);
    }

    /** Tag, length and the concatenated {@code parts}. */
    static byte[] tlv(int tag, byte[]... parts) {
        ByteArrayOutputStream contents = new ByteArrayOutputStream();
        for (byte[] part : parts) {
            contents.writeBytes(part);
        }
        int length = contents.size();
        ByteArrayOutputStream out = new ByteArrayOutputStream(length + 6);
        out.write(tag);
        if (length < 0x80) {
            out.write(length);
        } else {
            int octets = (32 - Integer.numberOfLeadingZeros(length) + 7) / 8;
            out.write(0x80 | octets);
            for (int i = octets - 1; i >= 0; i--) {
                out.write(length >>> 8 * i);
            }
        }
        out.writeBytes(contents.toByteArray());
        return out.toByteArray();
    }

    static byte[] integer(int value) {
        if (value < 0 || value > 0x7F) {
            throw new IllegalArgumentException("only small non-negative integers are written: " + value);
        }
        return tlv(INTEGER, new byte[] {(byte) value});
    }

    static byte[] utf8(String text) {
        return tlv(UTF8_STRING, text.getBytes(StandardCharsets.UTF_8));
    }

    /** An OBJECT IDENTIFIER from its dotted form. */
    static byte[] oid(String dotted) {
        String[] arcs = dotted.split("\\.");
        ByteArrayOutputStream contents = new ByteArrayOutputStream();
        contents.write(Integer.parseInt(arcs[0]) * 40 + Integer.parseInt(arcs[1]));
        for (int i = 2; i < arcs.length; i++) {
            long arc = Long.parseLong(arcs[i]);
            int groups = Math.max(1, (64 - Long.numberOfLeadingZeros(arc) + 6) / 7);
            for (int g = groups - 1; g >= 0; g--) {
                contents.write((int) (arc >>> 7 * g & 0x7F) | (g > 0 ? 0x80 : 0));
            }
        }
        return tlv(OID, contents.toByteArray());
    }
}
