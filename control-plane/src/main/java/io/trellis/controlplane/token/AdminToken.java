package io.trellis.controlplane.token;

import io.trellis.certs.OwnerOnlyFiles;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bearer token that authorises mutations of the control plane. Read from its file, or generated
 * into it (mode 0600) on first start; the token itself is never logged.
 */
public final class AdminToken {
    private static final Logger LOG = LoggerFactory.getLogger(AdminToken.class);
    private final byte[] token;

    private AdminToken(String token) {
        this.token = token.getBytes(StandardCharsets.UTF_8);
    }

    /** Loads the token from {@code file}, generating it first when the file does not exist. */
    public static AdminToken loadOrGenerate(Path file) throws IOException {
        if (Files.exists(file)) {
            if (OwnerOnlyFiles.isGroupOrWorldAccessible(file)) {
                throw new IOException(file + " is readable by others (expected mode 0600)");
            }
            String token = Files.readString(file).strip();
            if (token.length() < 16) {
                throw new IOException(file + " holds a token shorter than 16 characters");
            }
            LOG.info("admin token read from {}", file);
            return new AdminToken(token);
        }
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String token = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        OwnerOnlyFiles.write(file, token + "\n");
        LOG.info("admin token generated into {} (mode 0600)", file);
        return new AdminToken(token);
    }

    /** True when {@code presented} is the admin token (constant-time comparison). */
    public boolean matches(String presented) {
        return presented != null && MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8));
    }
}
