package io.trellis.certs;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real openssl must agree that our chains verify and our key files load. */
class OpensslInteropTest {
    @TempDir
    Path dir;

    private final CertificateAuthority ca = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
    private final SpiffeId web = SpiffeId.forWorkload("cluster.local", "default", "web");

    @Test
    void opensslVerifiesIssuedChainForClientAndServerPurposes() throws Exception {
        var keys = CsrFactory.generateKeyPair();
        IssuedCertificate issued = ca.issueWorkload(CsrFactory.createCsr(keys, web), web, Duration.ofHours(1));
        Path root = write("root.pem", Pem.encodeCertificates(List.of(ca.certificate())));
        Path leaf = write("leaf.pem", Pem.encodeCertificates(List.of(issued.certificate())));

        assertThat(openssl("verify", "-CAfile", root.toString(), "-purpose", "sslclient", leaf.toString()))
                .contains("leaf.pem: OK");
        assertThat(openssl("verify", "-CAfile", root.toString(), "-purpose", "sslserver", leaf.toString()))
                .contains("leaf.pem: OK");
        assertThat(openssl("x509", "-in", leaf.toString(), "-noout", "-ext", "subjectAltName"))
                .contains("URI:" + web);
    }

    @Test
    void opensslRejectsChainFromForeignCa() throws Exception {
        CertificateAuthority foreign = CertificateAuthority.generateRoot("cluster.local", Clock.systemUTC());
        Path root = write("root.pem", Pem.encodeCertificates(List.of(ca.certificate())));
        Path leaf = write("leaf.pem", Pem.encodeCertificates(
                List.of(ForgedCertificate.signedBy(foreign).uri(web.toString()).build().leaf())));

        assertThat(opensslExit("verify", "-CAfile", root.toString(), leaf.toString())).isNotZero();
    }

    @Test
    void opensslLoadsPkcs8KeyWrittenOwnerOnly() throws Exception {
        var keys = CsrFactory.generateKeyPair();
        Path key = dir.resolve("key.pem");
        OwnerOnlyFiles.write(key, Pem.encodePrivateKey(keys.getPrivate()));

        assertThat(OwnerOnlyFiles.isGroupOrWorldAccessible(key)).isFalse();
        assertThat(Files.readString(key)).startsWith("-----BEGIN PRIVATE KEY-----");
        assertThat(opensslExit("pkey", "-in", key.toString(), "-noout")).isZero();
        assertThat(Pem.decodePrivateKey(Files.readString(key))).isEqualTo(keys.getPrivate());
    }

    @Test
    void readsOpensslGeneratedSec1Key() throws Exception {
        Path key = dir.resolve("sec1.pem");
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key.toString());
        assertThat(Files.readString(key)).contains("BEGIN EC PRIVATE KEY");
        assertThat(Pem.decodePrivateKey(Files.readString(key)).getAlgorithm()).isEqualTo("EC");
    }

    @Test
    void opensslVerifiesOurCsrAndReadsTheIdentityItAsksFor() throws Exception {
        // The request is encoded without an ASN.1 library (CsrFactory with Der): openssl checks its structure and
        // signature, and reads the subject and the URI SAN it asks for.
        byte[] der = CsrFactory.createCsr(CsrFactory.generateKeyPair(), web);
        Path csr = Files.write(dir.resolve("web.csr"), der);

        String text = openssl("req", "-inform", "DER", "-in", csr.toString(), "-verify", "-noout", "-text");

        assertThat(text).contains("Subject: O = trellis").contains("URI:" + web).contains("ecdsa-with-SHA256");
    }

    @Test
    void readsOpensslGeneratedPkcs8KeyAndCertificateChains() throws Exception {
        Path key = dir.resolve("pkcs8.pem");
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.toString());
        Path cert = dir.resolve("self.pem");
        openssl("req", "-x509", "-key", key.toString(), "-subj", "/O=elsewhere", "-days", "1", "-out", cert.toString());

        assertThat(Pem.decodePrivateKey(Files.readString(key)).getAlgorithm()).isEqualTo("EC");
        // Two blocks, with text before, between and after them, as operators concatenate bundles.
        String bundle = "issuer: elsewhere\n" + Files.readString(cert) + "\n# and again\n" + Files.readString(cert);
        assertThat(Pem.decodeCertificates(bundle)).hasSize(2)
                .allSatisfy(c -> assertThat(c.getSubjectX500Principal().getName()).isEqualTo("O=elsewhere"));
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content);
    }

    private String openssl(String... args) throws Exception {
        Process process = start(args);
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(output).isZero();
        return output;
    }

    private int opensslExit(String... args) throws Exception {
        Process process = start(args);
        process.getInputStream().readAllBytes();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return process.exitValue();
    }

    private Process start(String... args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add("openssl");
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectErrorStream(true).start();
    }
}
