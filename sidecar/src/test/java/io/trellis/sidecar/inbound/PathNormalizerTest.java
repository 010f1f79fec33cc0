package io.trellis.sidecar.inbound;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.trellis.sidecar.errors.ProxyError;
import io.trellis.sidecar.errors.ProxyException;
import org.junit.jupiter.api.Test;

class PathNormalizerTest {
    @Test
    void foldsCaseOnlyForAnAppThatIgnoresIt() {
        assertThat(PathNormalizer.normalise("/ADMIN/../Admin/X", PathCase.INSENSITIVE)).isEqualTo("/admin/x");
        assertThat(PathNormalizer.normalise("/%41dmin", PathCase.INSENSITIVE)).isEqualTo("/admin");
        assertThat(PathNormalizer.normalise("/ADMIN", PathCase.SENSITIVE)).isEqualTo("/ADMIN");
    }

    @Test
    void removesDotSegmentsAndMergesSlashes() {
        assertThat(PathNormalizer.normalise("/public/../admin")).isEqualTo("/admin");
        assertThat(PathNormalizer.normalise("//admin")).isEqualTo("/admin");
        assertThat(PathNormalizer.normalise("/a/./b//c")).isEqualTo("/a/b/c");
        assertThat(PathNormalizer.normalise("/../../etc")).isEqualTo("/etc");
        assertThat(PathNormalizer.normalise("/a/b/..")).isEqualTo("/a/");
    }

    @Test
    void keepsTrailingSlashAndRoot() {
        assertThat(PathNormalizer.normalise("/items/")).isEqualTo("/items/");
        assertThat(PathNormalizer.normalise("/")).isEqualTo("/");
        assertThat(PathNormalizer.normalise("")).isEqualTo("/");
    }

    @Test
    void decodesUnreservedCharactersOnly() {
        assertThat(PathNormalizer.normalise("/%61dmin")).isEqualTo("/admin");
        assertThat(PathNormalizer.normalise("/%2e%2e/admin")).isEqualTo("/admin");
        assertThat(PathNormalizer.normalise("/a%20b")).isEqualTo("/a%20b");
        assertThat(PathNormalizer.normalise("/a%3fb")).isEqualTo("/a%3Fb");
    }

    @Test
    void refusesEncodedSlashesBackslashesAndNul() {
        for (String path : new String[] {"/a%2Fb", "/a%2fb", "/a%5Cb", "/a\\b", "/a%00b", "/a%zz", "/a%4"}) {
            assertThatThrownBy(() -> PathNormalizer.normalise(path)).as(path).isInstanceOf(ProxyException.class)
                    .satisfies(e -> assertThat(((ProxyException) e).error()).isEqualTo(ProxyError.BAD_REQUEST));
        }
    }

    @Test
    void refusesPathParametersThatServletContainersWouldStrip() {
        // Issue 12, item 8: with DENY /admin, /admin/*, each of these reached the app and Tomcat read it as /admin.
        for (String path : new String[] {"/admin;x", "/admin;", "/x/..;/admin", "/x/..%3b/admin", "/admin%3bx", "/admin%3Bx"}) {
            assertThatThrownBy(() -> PathNormalizer.normalise(path)).as(path).isInstanceOf(ProxyException.class)
                    .hasMessageContaining("path parameter")
                    .satisfies(e -> assertThat(((ProxyException) e).error()).isEqualTo(ProxyError.BAD_REQUEST));
        }
    }
}
