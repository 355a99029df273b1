{{/* Chart name, overridable. */}}
{{- define "redis.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Resource name: "<release>-<name>". The parent chart computes the same name to reach the
Service and Secret, so there is deliberately no "release name contains chart name" shortcut.
*/}}
{{- define "redis.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "redis.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels: stable across upgrades (no version, no chart label). */}}
{{- define "redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: cache
{{- end -}}

{{- define "redis.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "redis.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chat-system
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "redis.image" -}}
{{- $ref := printf "%s/%s" .Values.image.registry .Values.image.repository | trimPrefix "/" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $ref .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref .Values.image.tag -}}
{{- end -}}
{{- end -}}

{{- define "redis.secretName" -}}
{{- default (include "redis.fullname" .) .Values.auth.existingSecret -}}
{{- end -}}

{{/*
A password kept across upgrades: reuse the value of the live Secret when there is one
(lookup), otherwise generate 32 alphanumeric characters (URL-safe, no escaping needed).
Usage: include "redis.password" (dict "ctx" $ "key" "redis-password")
*/}}
{{- define "redis.password" -}}
{{- $live := lookup "v1" "Secret" .ctx.Release.Namespace (include "redis.fullname" .ctx) -}}
{{- if and $live $live.data (hasKey $live.data .key) -}}
{{- index $live.data .key -}}
{{- else -}}
{{- randAlphaNum 32 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* Probe command: PONG from an authenticated PING. */}}
{{- define "redis.pingCommand" -}}
- sh
- -c
- {{ printf "%s -h 127.0.0.1 -p %d -a \"$REDIS_PASSWORD\" --no-auth-warning ping | grep -q PONG" .Values.cli (int .Values.service.port) | quote }}
{{- end -}}

{{/* Nodes of the StatefulSet: 1 standalone, shards x (1 + replicasPerShard) in cluster mode. */}}
{{- define "redis.replicas" -}}
{{- if .Values.cluster.enabled -}}
{{- mul (int .Values.cluster.shards) (add 1 (int .Values.cluster.replicasPerShard)) -}}
{{- else -}}
1
{{- end -}}
{{- end -}}

{{/* Pod FQDN suffix under the headless Service: ".<svc>.<ns>.svc.<domain>". */}}
{{- define "redis.hostnameSuffix" -}}
{{- printf ".%s.%s.svc.%s" (include "redis.fullname" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{/* Every cluster node as "host:port", space-separated (the pods' stable DNS names). */}}
{{- define "redis.clusterNodes" -}}
{{- $nodes := list -}}
{{- range $i := until (include "redis.replicas" . | int) -}}
{{- $nodes = append $nodes (printf "%s-%d%s:%d" (include "redis.fullname" $) $i (include "redis.hostnameSuffix" $) (int $.Values.service.port)) -}}
{{- end -}}
{{- join " " $nodes -}}
{{- end -}}

{{/*
Where cluster pods may run: spread over machines and zones, kept apart by anti-affinity. An
explicit .Values.affinity replaces the generated anti-affinity.
*/}}
{{- define "redis.placement" -}}
{{- if and .Values.cluster.enabled .Values.topologySpread.enabled }}
topologySpreadConstraints:
  - topologyKey: kubernetes.io/hostname
    maxSkew: {{ .Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ .Values.topologySpread.nodes }}
    # Tainted nodes (a control plane) hold none of these pods and must not count as empty domains.
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "redis.selectorLabels" . | nindent 8 }}
  - topologyKey: topology.kubernetes.io/zone
    maxSkew: {{ .Values.topologySpread.maxSkew }}
    whenUnsatisfiable: {{ .Values.topologySpread.zones }}
    nodeTaintsPolicy: Honor
    labelSelector:
      matchLabels:
        {{- include "redis.selectorLabels" . | nindent 8 }}
{{- end }}
{{- if .Values.affinity }}
affinity:
  {{- toYaml .Values.affinity | nindent 2 }}
{{- else if and .Values.cluster.enabled (ne .Values.podAntiAffinity "none") }}
affinity:
  podAntiAffinity:
    {{- if eq .Values.podAntiAffinity "hard" }}
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "redis.selectorLabels" . | nindent 12 }}
    {{- else }}
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "redis.selectorLabels" . | nindent 14 }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* Labels of the cluster-create Job and its pod (not selected by the StatefulSet). */}}
{{- define "redis.jobLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "redis.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: cluster-create
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chat-system
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}
