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

{{/*
The webhook's CA and serving certificate, as YAML (ca, cert, key): new ones for each render (a CA of the chart's own,
ten years), the same however often one render includes this. An upgrade therefore changes them, and the control
plane's pod restarts with the new ones (its checksum annotation).
*/}}
{{- define "trellis.webhookTls" -}}
{{- if not (hasKey .Values "_webhookTls") -}}
{{- $host := include "trellis.controlPlaneHost" . -}}
{{- $ca := genCA "trellis-injector-ca" 3650 -}}
{{- $cert := genSignedCert $host nil (list $host (printf "%s.cluster.local" $host)) 3650 $ca -}}
{{- $_ := set .Values "_webhookTls" (dict "ca" $ca.Cert "cert" $cert.Cert "key" $cert.Key) -}}
{{- end -}}
ca: {{ .Values._webhookTls.ca | quote }}
cert: {{ .Values._webhookTls.cert | quote }}
key: {{ .Values._webhookTls.key | quote }}
{{- end -}}
