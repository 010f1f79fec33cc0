package io.trellis.controlplane.api;

import io.micronaut.http.HttpRequest;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.HttpStatus;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Post;
import io.micronaut.http.annotation.Produces;
import io.trellis.controlplane.ca.MeshCertificateAuthority;
import io.trellis.controlplane.resource.ResourceCodec;
import io.trellis.controlplane.store.CaState;
import java.util.LinkedHashMap;
import java.util.Map;

/** The CA: trust bundle (PEM), state, and starting a root rotation. */
@Controller("/api/v1/ca")
final class CaController {
    private final MeshCertificateAuthority ca;
    private final ResourceCodec codec;

    CaController(MeshCertificateAuthority ca, ResourceCodec codec) {
        this.ca = ca;
        this.codec = codec;
    }

    @Get("/bundle")
    @Produces("application/x-pem-file")
    String bundle() {
        return ca.trustBundle().toPem();
    }

    @Get
    @Produces({"application/json", ApiFormat.YAML})
    HttpResponse<byte[]> state(HttpRequest<?> request) {
        return view(request, HttpStatus.OK, ca.state());
    }

    @Post("/rotate")
    @Produces({"application/json", ApiFormat.YAML})
    HttpResponse<byte[]> rotate(HttpRequest<?> request) {
        return view(request, HttpStatus.ACCEPTED, ca.startRotation());
    }

    private HttpResponse<byte[]> view(HttpRequest<?> request, HttpStatus status, CaState state) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("signing", state.signing());
        view.put("trusted", state.trusted());
        view.put("phase", state.rotating() ? "TRUSTING_NEW_ROOT" : state.retiring() != null ? "RETIRING_OLD_ROOT" : "STEADY");
        if (state.pending() != null) {
            view.put("pending", state.pending());
        }
        if (state.retiring() != null) {
            view.put("retiring", state.retiring());
            view.put("retireAfter", state.retireAfter().toString());
        }
        var format = ApiFormat.ofResponse(request);
        return ApiFormat.body(HttpResponse.status(status), codec.write(view, format), format);
    }
}
