{{/* The control plane's name: its Deployment, Service, ServiceAccount. */}}
{{- define "trellis.controlPlane" -}}
{{- printf "%s-control-plane" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The DNS name the sidecars and the API server reach the control plane by. */}}
{{- define "trellis.controlPlaneHost" -}}
{{- printf "%s.%s.svc" (include "trellis.controlPlane" .) .Release.Namespace -}}
{{- end -}}

{{- define "trellis.labels" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "trellis.selector" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: control-plane
{{- end -}}

{{/* The webhook's serving Secret. */}}
{{- define "trellis.webhookSecret" -}}
{{- default (printf "%s-webhook-tls" (include "trellis.controlPlane" .)) .Values.injector.tls.existingSecret -}}
{{- end -}}
