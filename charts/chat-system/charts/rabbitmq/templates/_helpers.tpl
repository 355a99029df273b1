{{/* Chart name, overridable. */}}
{{- define "rabbitmq.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Resource name: "<release>-<name>". The parent chart computes the same name to reach the
Service and Secret, so there is deliberately no "release name contains chart name" shortcut.
*/}}
{{- define "rabbitmq.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "rabbitmq.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (no version, no chart label). */}}
{{- define "rabbitmq.selectorLabels" -}}
app.kubernetes.io/name: {{ include "rabbitmq.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: broker
{{- end -}}

{{- define "rabbitmq.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "rabbitmq.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chat-system
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "rabbitmq.image" -}}
{{- $ref := printf "%s/%s" .Values.image.registry .Values.image.repository | trimPrefix "/" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $ref .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{- define "rabbitmq.secretName" -}}
{{- default (include "rabbitmq.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
A password kept across upgrades: reuse the value of the live Secret when there is one
(lookup), otherwise generate 32 alphanumeric characters (URL-safe, no escaping needed).
Usage: include "rabbitmq.password" (dict "ctx" $ "key" "rabbitmq-password")
*/}}
{{- define "rabbitmq.password" -}}
{{- $live := lookup "v1" "Secret" .ctx.Release.Namespace (include "rabbitmq.fullname" .ctx) -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- index $live.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* "true" when the broker runs as a cluster of several nodes. */}}
{{- define "rabbitmq.clustered" -}}
{{- if gt (int .Values.replicas) 1 -}}true{{- end -}}
{{- end -}}

{{/* Pod FQDN suffix under the headless Service: ".<svc>.<ns>.svc.<domain>". */}}
{{- define "rabbitmq.hostnameSuffix" -}}
{{- printf ".%s.%s.svc.%s" (include "rabbitmq.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "rabbitmq.cookieSecretName" -}}
{{- default (printf "%s-erlang-cookie" (include "rabbitmq.fullname" . | trunc 49 | trimSuffix "-")) .Values.clustering.erlangCookie.existingSecret -}}
{{- end -}}

{{- define "rabbitmq.serviceAccountName" -}}
{{- include "rabbitmq.fullname" . -}}
{{- end -}}

{{/* The Service clients connect to: the load-balanced one in a cluster, else the headless one. */}}
{{- define "rabbitmq.clientServiceName" -}}
{{- if include "rabbitmq.clustered" . -}}
{{- printf "%s-client" (include "rabbitmq.fullname" . | trunc 56 | trimSuffix "-") -}}
{{- else -}}
{{- include "rabbitmq.fullname" . -}}
{{- end -}}
{{- end -}}

{{/*
Where the pods may run: spread over nodes and zones, and kept apart by anti-affinity (a
cluster only: one node has nothing to spread). An explicit .Values.affinity replaces the
generated anti-affinity.
*/}}
{{- define "rabbitmq.placement" -}}
{{- if include "rabbitmq.clustered" . }}
{{- if .Values.topologySpread.enabled }}
topologySpreadConstraints:
  - topologyKey: kubernetes.io/hostname
    maxSkew: {{ .Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ .Values.topologySpread.nodes }}
    # Tainted nodes (a control plane) hold none of these pods and must not count as empty domains.
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "rabbitmq.selectorLabels" . | nindent 8 }}
  - topologyKey: topology.kubernetes.io/zone
    maxSkew: {{ .Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ .Values.topologySpread.zones }}
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "rabbitmq.selectorLabels" . | nindent 8 }}
{{- end }}
{{- end }}
{{- if .Values.affinity }}
affinity:
  {{- toYaml .Values.affinity | nindent 2 }}
{{- else if and (include "rabbitmq.clustered" .) (ne .Values.podAntiAffinity "none") }}
affinity:
  podAntiAffinity:
    {{- if eq .Values.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "rabbitmq.selectorLabels" . | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "rabbitmq.selectorLabels" . | nindent 14 }}
    {{- end }}
{{- end }}
{{- end -}}

{{- define "rabbitmq.validate" -}}
{{- if include "rabbitmq.clustered" . -}}
{{- if eq (mod (int .Values.replicas) 2) 0 -}}
{{- fail "rabbitmq.replicas must be odd (1, 3, 5, 7): an even cluster has no majority on either side of a partition" -}}
{{- end -}}
{{- if gt (int .Values.clustering.quorumQueueSize) (int .Values.replicas) -}}
{{- fail "rabbitmq.clustering.quorumQueueSize must not exceed rabbitmq.replicas" -}}
{{- end -}}
{{- end -}}
{{- end -}}
