{{/* ---------------------------------------------------------------- names */}}

{{- define "chat-system.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "chat-system.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "chat-system.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* "<fullname>-<component>". Usage: include "chat-system.componentName" (dict "ctx" $ "component" "api") */}}
{{- define "chat-system.componentName" -}}
{{- printf "%s-%s" (include "chat-system.fullname" .ctx | trunc 52 | trimSuffix "-") .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* CronJob names are limited to 52 characters (the controller appends a timestamp to Job names). */}}
{{- define "chat-system.cronJobName" -}}
{{- printf "%s-%s" (include "chat-system.fullname" .ctx | trunc 40 | trimSuffix "-") .component | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{/* ---------------------------------------------------------------- labels */}}

{{/*
Selector labels. They never change across upgrades (no version, no chart label), so
Deployments can be upgraded in place: a selector is immutable.
*/}}
{{- define "chat-system.selectorLabels" -}}
app.kubernetes.io/name: {{ include "chat-system.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "chat-system.labels" -}}
helm.sh/chart: {{ include "chat-system.chart" .ctx }}
{{ include "chat-system.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: chat-system
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of objects that belong to the release as a whole (ConfigMap, Secrets, RBAC). */}}
{{- define "chat-system.releaseLabels" -}}
helm.sh/chart: {{ include "chat-system.chart" . }}
app.kubernetes.io/name: {{ include "chat-system.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chat-system
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- images */}}

{{/* Usage: include "chat-system.image" (dict "ctx" $ "image" .Values.api.image) */}}
{{- define "chat-system.image" -}}
{{- $repository := .image.repository -}}
{{- with .ctx.Values.image.registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" .) $repository -}}
{{- end -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repository (.image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion) -}}
{{- end -}}
{{- end -}}

{{- define "chat-system.imagePullSecrets" -}}
{{- with .Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- accounts */}}

{{- define "chat-system.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chat-system.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chat-system.flusherServiceAccountName" -}}
{{- if .Values.flusher.serviceAccount.create -}}
{{- default (include "chat-system.componentName" (dict "ctx" . "component" "flusher")) .Values.flusher.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.flusher.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "chat-system.lockName" -}}
{{- default (include "chat-system.componentName" (dict "ctx" . "component" "flusher")) .Values.flusher.lock.name -}}
{{- end -}}

{{/* ---------------------------------------------------------------- secrets */}}

{{/* Secret holding the generated admin token. */}}
{{- define "chat-system.secretName" -}}
{{- include "chat-system.fullname" . -}}
{{- end -}}

{{/* Secret holding passwords given inline for external services. */}}
{{- define "chat-system.externalSecretName" -}}
{{- printf "%s-external" (include "chat-system.fullname" . | trunc 54 | trimSuffix "-") -}}
{{- end -}}

{{/* ---------------------------------------------------------------- data services */}}

{{/* Subchart resource names, computed the way the subcharts compute them. */}}
{{- define "chat-system.subchartFullname" -}}
{{- $values := index .ctx.Values .chart -}}
{{- if $values.fullnameOverride -}}
{{- $values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .ctx.Release.Name (default .chart $values.nameOverride) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* In-cluster DNS name of a subchart's headless Service. */}}
{{- define "chat-system.subchartHost" -}}
{{- printf "%s.%s.svc" (include "chat-system.subchartFullname" .) .ctx.Release.Namespace -}}
{{- end -}}

{{/* "true" when the programs get an Elasticsearch URL, "" for the MySQL search fallback. */}}
{{- define "chat-system.searchEnabled" -}}
{{- if or .Values.elasticsearch.enabled .Values.externalElasticsearch.url -}}true{{- end -}}
{{- end -}}

{{/* "true" when the chart must create the Secret for inline external passwords. */}}
{{- define "chat-system.externalSecretNeeded" -}}
{{- $v := .Values -}}
{{- if or
  (and (not $v.mysql.enabled) $v.externalMysql.password (not $v.externalMysql.existingSecret))
  (and (not $v.redis.enabled) $v.externalRedis.password (not $v.externalRedis.existingSecret))
  (and (not $v.rabbitmq.enabled) $v.externalRabbitmq.password (not $v.externalRabbitmq.existingSecret))
  (and (not $v.elasticsearch.enabled) $v.externalElasticsearch.url $v.externalElasticsearch.password (not $v.externalElasticsearch.existingSecret)) -}}
true
{{- end -}}
{{- end -}}

{{/*
Seed nodes of the in-release Valkey cluster: every pod by its stable DNS name under the headless
Service (which lists pods before they are ready), as the redis subchart names them.
*/}}
{{- define "chat-system.redisClusterNodes" -}}
{{- $r := .Values.redis -}}
{{- $name := include "chat-system.subchartFullname" (dict "ctx" . "chart" "redis") -}}
{{- $nodes := list -}}
{{- range $i := until (mul (int $r.cluster.shards) (add 1 (int $r.cluster.replicasPerShard)) | int) -}}
{{- $nodes = append $nodes (printf "%s-%d.%s.%s.svc:%d" $name $i $name $.Release.Namespace (int $r.service.port)) -}}
{{- end -}}
{{- join "," $nodes -}}
{{- end -}}

{{/* Where the CA of an external Redis Cluster's certificates is mounted (REDIS_TLS_CA_FILE). */}}
{{- define "chat-system.redisCaDir" -}}
/etc/chat-system/redis-ca
{{- end -}}

{{/* The volume and mount of that CA, in every pod and container given the connection env. */}}
{{- define "chat-system.redisCaVolume" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.clusterNodes .Values.externalRedis.tlsCaSecret }}
- name: redis-ca
  secret:
    secretName: {{ .Values.externalRedis.tlsCaSecret }}
    items:
      - key: {{ .Values.externalRedis.tlsCaSecretKey }}
        path: {{ .Values.externalRedis.tlsCaSecretKey }}
{{- end }}
{{- end -}}

{{- define "chat-system.redisCaMount" -}}
{{- if and (not .Values.redis.enabled) .Values.externalRedis.clusterNodes .Values.externalRedis.tlsCaSecret }}
- name: redis-ca
  mountPath: {{ include "chat-system.redisCaDir" . }}
  readOnly: true
{{- end }}
{{- end -}}

{{- define "chat-system.mysqlEndpoint" -}}
{{- if .Values.mysql.enabled -}}
host: {{ include "chat-system.subchartHost" (dict "ctx" . "chart" "mysql") }}
port: {{ .Values.mysql.service.port }}
{{- else -}}
host: {{ .Values.externalMysql.host }}
port: {{ .Values.externalMysql.port }}
{{- end -}}
{{- end -}}

{{/*
Connection settings. URLs embed passwords, so each password comes from a Secret into its own
variable and the URL is assembled with $(VAR) expansion: no secret ever lands in a ConfigMap or
in the pod spec. Generated passwords are alphanumeric, so they need no URL escaping.
*/}}
{{- define "chat-system.connectionEnv" -}}
{{- $v := .Values -}}
{{- /* MySQL */ -}}
{{- if $v.mysql.enabled }}
- name: MYSQL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.subchartFullname" (dict "ctx" . "chart" "mysql")) $v.mysql.auth.existingSecret }}
      key: {{ $v.mysql.auth.passwordKey }}
- name: MYSQL_URL
  value: {{ printf "mysql://%s:$(MYSQL_PASSWORD)@%s:%d/%s" $v.mysql.auth.username (include "chat-system.subchartHost" (dict "ctx" . "chart" "mysql")) (int $v.mysql.service.port) $v.mysql.auth.database | quote }}
{{- else }}
- name: MYSQL_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.externalSecretName" .) $v.externalMysql.existingSecret }}
      key: {{ ternary $v.externalMysql.existingSecretPasswordKey "mysql-password" (ne $v.externalMysql.existingSecret "") }}
- name: MYSQL_URL
  value: {{ printf "mysql://%s:$(MYSQL_PASSWORD)@%s:%d/%s" $v.externalMysql.username $v.externalMysql.host (int $v.externalMysql.port) $v.externalMysql.database | quote }}
{{- if $v.externalMysql.readHost }}
{{- /* Every program gets it: the API reads there, the writers record positions for it. */}}
- name: MYSQL_READ_URL
  value: {{ printf "mysql://%s:$(MYSQL_PASSWORD)@%s:%d/%s" $v.externalMysql.username $v.externalMysql.readHost (int $v.externalMysql.readPort) $v.externalMysql.database | quote }}
- name: MYSQL_READ_WAIT_MS
  value: {{ $v.externalMysql.readWaitMs | quote }}
{{- else if $v.externalMysql.recordPositions }}
- name: MYSQL_RECORD_POSITIONS
  value: "true"
{{- end }}
{{- end }}
{{- /* Redis: standalone (REDIS_URL) or Redis Cluster (REDIS_CLUSTER_NODES, see chat-system.redisClusterNodes) */ -}}
{{- if $v.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.subchartFullname" (dict "ctx" . "chart" "redis")) $v.redis.auth.existingSecret }}
      key: {{ $v.redis.auth.passwordKey }}
{{- if $v.redis.cluster.enabled }}
- name: REDIS_CLUSTER_NODES
  value: {{ include "chat-system.redisClusterNodes" . | quote }}
- name: REDIS_TLS
  value: "false"
{{- else }}
- name: REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:%d" (include "chat-system.subchartHost" (dict "ctx" . "chart" "redis")) (int $v.redis.service.port) | quote }}
{{- end }}
{{- else }}
{{- $scheme := ternary "rediss" "redis" $v.externalRedis.tls }}
{{- $user := $v.externalRedis.username }}
{{- $auth := or $v.externalRedis.existingSecret $v.externalRedis.password }}
{{- if $auth }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.externalSecretName" .) $v.externalRedis.existingSecret }}
      key: {{ ternary $v.externalRedis.existingSecretPasswordKey "redis-password" (ne $v.externalRedis.existingSecret "") }}
{{- end }}
{{- if $v.externalRedis.clusterNodes }}
- name: REDIS_CLUSTER_NODES
  value: {{ join "," $v.externalRedis.clusterNodes | quote }}
{{- with $user }}
- name: REDIS_USERNAME
  value: {{ . | quote }}
{{- end }}
- name: REDIS_TLS
  value: {{ $v.externalRedis.tls | quote }}
{{- with $v.externalRedis.tlsCaSecret }}
- name: REDIS_TLS_CA_FILE
  value: {{ printf "%s/%s" (include "chat-system.redisCaDir" $) $v.externalRedis.tlsCaSecretKey | quote }}
{{- end }}
{{- else if $auth }}
- name: REDIS_URL
  value: {{ printf "%s://%s:$(REDIS_PASSWORD)@%s:%d" $scheme $user $v.externalRedis.host (int $v.externalRedis.port) | quote }}
{{- else }}
- name: REDIS_URL
  value: {{ printf "%s://%s:%d" $scheme $v.externalRedis.host (int $v.externalRedis.port) | quote }}
{{- end }}
{{- end }}
{{- /* RabbitMQ */ -}}
{{- if $v.rabbitmq.enabled }}
- name: RABBITMQ_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.subchartFullname" (dict "ctx" . "chart" "rabbitmq")) $v.rabbitmq.auth.existingSecret }}
      key: {{ $v.rabbitmq.auth.passwordKey }}
{{- /* A cluster is reached through its load-balanced client Service (rabbitmq.clientServiceName). */}}
{{- $host := include "chat-system.subchartHost" (dict "ctx" . "chart" "rabbitmq") }}
{{- if gt (int $v.rabbitmq.replicas) 1 }}
{{- $host = printf "%s-client.%s.svc" (include "chat-system.subchartFullname" (dict "ctx" . "chart" "rabbitmq") | trunc 56 | trimSuffix "-") .Release.Namespace }}
{{- end }}
- name: RABBITMQ_URL
  value: {{ printf "amqp://%s:$(RABBITMQ_PASSWORD)@%s:%d" $v.rabbitmq.auth.username $host (int $v.rabbitmq.service.port) | quote }}
{{- else }}
{{- $scheme := ternary "amqps" "amqp" $v.externalRabbitmq.tls }}
{{- $vhost := ternary "" (printf "/%s" (urlquery $v.externalRabbitmq.vhost)) (eq $v.externalRabbitmq.vhost "") }}
- name: RABBITMQ_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.externalSecretName" .) $v.externalRabbitmq.existingSecret }}
      key: {{ ternary $v.externalRabbitmq.existingSecretPasswordKey "rabbitmq-password" (ne $v.externalRabbitmq.existingSecret "") }}
- name: RABBITMQ_URL
  value: {{ printf "%s://%s:$(RABBITMQ_PASSWORD)@%s:%d%s" $scheme $v.externalRabbitmq.username $v.externalRabbitmq.host (int $v.externalRabbitmq.port) $vhost | quote }}
{{- end }}
{{- /* Elasticsearch (optional: without it, search uses the MySQL fallback) */ -}}
{{- if $v.elasticsearch.enabled }}
- name: ELASTICSEARCH_URL
  value: {{ printf "http://%s:%d" (include "chat-system.subchartHost" (dict "ctx" . "chart" "elasticsearch")) (int $v.elasticsearch.service.port) | quote }}
- name: ELASTICSEARCH_USERNAME
  value: elastic
- name: ELASTICSEARCH_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.subchartFullname" (dict "ctx" . "chart" "elasticsearch")) $v.elasticsearch.auth.existingSecret }}
      key: {{ $v.elasticsearch.auth.passwordKey }}
{{- else if $v.externalElasticsearch.url }}
- name: ELASTICSEARCH_URL
  value: {{ $v.externalElasticsearch.url | quote }}
{{- with $v.externalElasticsearch.username }}
- name: ELASTICSEARCH_USERNAME
  value: {{ . | quote }}
{{- end }}
{{- if or $v.externalElasticsearch.existingSecret $v.externalElasticsearch.password }}
- name: ELASTICSEARCH_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ default (include "chat-system.externalSecretName" .) $v.externalElasticsearch.existingSecret }}
      key: {{ ternary $v.externalElasticsearch.existingSecretPasswordKey "elasticsearch-password" (ne $v.externalElasticsearch.existingSecret "") }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
Everything a program container needs: the pod's identity (downward API), the connection
settings and the extra variables. Non-secret settings come from the ConfigMap (envFrom).
Usage: include "chat-system.env" (dict "ctx" $ "extraEnv" .Values.api.extraEnv)
*/}}
{{- define "chat-system.env" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- include "chat-system.connectionEnv" .ctx }}
{{- with .extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "chat-system.envFrom" -}}
- configMapRef:
    name: {{ include "chat-system.fullname" . }}-config
{{- end -}}

{{/*
Pod annotations that roll the pods when their configuration changes. checksum/secret-values
hashes the *values* of every Secret the pods read: inline passwords as rendered here, and the
live data of each referenced Secret (generated or existingSecret) as `lookup` reads it at
upgrade time, so `helm upgrade` after a password rotation restarts the pods. (`lookup` sees
nothing under `helm template`/GitOps renderers: there only inline values and names count.)
*/}}
{{- define "chat-system.checksumAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret-values: {{ include "chat-system.secretValues" . | sha256sum }}
{{- end -}}

{{- define "chat-system.secretValues" -}}
{{- $names := list -}}
{{- range (include "chat-system.connectionEnv" . | fromYamlArray) -}}
{{- with ((.valueFrom).secretKeyRef).name }}{{ $names = append $names . }}{{ end -}}
{{- end -}}
{{- if .Values.adminToken.enabled -}}
{{- $names = append $names (default (include "chat-system.secretName" .) .Values.adminToken.existingSecret) -}}
{{- end -}}
{{- $live := dict -}}
{{- range ($names | uniq | sortAlpha) -}}
{{- $secret := lookup "v1" "Secret" $.Release.Namespace . -}}
{{- $_ := set $live . (($secret).data | default dict) -}}
{{- end -}}
{{- list $live .Values.adminToken (include (print .Template.BasePath "/external-secret.yaml") .) | toJson -}}
{{- end -}}

{{/*
Init container that holds a program until the database schema is current: `migrate --check`
exits 0 only then. The post-install/post-upgrade hook runs the migrations.
Usage: include "chat-system.waitForSchema" (dict "ctx" $ "image" .Values.api.image)
*/}}
{{- define "chat-system.waitForSchema" -}}
- name: wait-for-schema
  image: {{ include "chat-system.image" (dict "ctx" .ctx "image" .image) }}
  imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
  command:
    - /bin/sh
    - -c
    - |
      trap 'exit 143' TERM INT
      until node dist/cmd/migrate/main.js --check; do
        echo "waiting for the database schema to be migrated"
        sleep {{ .ctx.Values.waitForSchema.intervalSeconds }} & wait $!
      done
  envFrom:
    {{- include "chat-system.envFrom" .ctx | nindent 4 }}
  env:
    {{- include "chat-system.env" (dict "ctx" .ctx "extraEnv" list) | nindent 4 }}
  resources:
    {{- toYaml .ctx.Values.waitForSchema.resources | nindent 4 }}
  securityContext:
    {{- toYaml .ctx.Values.containerSecurityContext | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
    {{- with (include "chat-system.redisCaMount" .ctx | trim) }}{{ . | nindent 4 }}{{- end }}
{{- end -}}

{{/* Drain budget: preStop sleep + the programs' own shutdown timeout + a margin. */}}
{{- define "chat-system.terminationGracePeriodSeconds" -}}
{{- add (int .preStop) (div (add (int .ctx.Values.config.shutdownTimeoutMs) 999) 1000) 10 -}}
{{- end -}}

{{/* Topology spread over nodes and zones. Usage: (dict "ctx" $ "component" "api" "spread" .Values.api.topologySpread) */}}
{{- define "chat-system.topologySpread" -}}
{{- if .spread.enabled }}
topologySpreadConstraints:
  {{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
  - topologyKey: {{ . }}
    maxSkew: {{ $.spread.maxSkew }}
    whenUnsatisfiable: {{ $.spread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "chat-system.selectorLabels" (dict "ctx" $.ctx "component" $.component) | nindent 8 }}
    matchLabelKeys:
      - pod-template-hash
  {{- end }}
{{- end }}
{{- end -}}

{{/* ---------------------------------------------------------------- validation */}}

{{- define "chat-system.validate" -}}
{{- $v := .Values -}}
{{- if and $v.mysql.enabled $v.externalMysql.readHost -}}
{{- fail "externalMysql.readHost needs mysql.enabled=false (the in-repo MySQL has no replica)" -}}
{{- end -}}
{{- if and (not $v.mysql.enabled) (not $v.externalMysql.host) -}}
{{- fail "mysql.enabled=false needs externalMysql.host" -}}
{{- end -}}
{{- if and (not $v.mysql.enabled) (not $v.externalMysql.password) (not $v.externalMysql.existingSecret) -}}
{{- fail "mysql.enabled=false needs externalMysql.existingSecret (or externalMysql.password)" -}}
{{- end -}}
{{- if and (not $v.redis.enabled) (not $v.externalRedis.host) (not $v.externalRedis.clusterNodes) -}}
{{- fail "redis.enabled=false needs externalRedis.host (or externalRedis.clusterNodes)" -}}
{{- end -}}
{{- if and (not $v.redis.enabled) $v.externalRedis.tlsCaSecret (not $v.externalRedis.clusterNodes) -}}
{{- fail "externalRedis.tlsCaSecret applies to a Redis Cluster (externalRedis.clusterNodes)" -}}
{{- end -}}
{{- if and (not $v.rabbitmq.enabled) (not $v.externalRabbitmq.host) -}}
{{- fail "rabbitmq.enabled=false needs externalRabbitmq.host" -}}
{{- end -}}
{{- if and (not $v.rabbitmq.enabled) (not $v.externalRabbitmq.password) (not $v.externalRabbitmq.existingSecret) -}}
{{- fail "rabbitmq.enabled=false needs externalRabbitmq.existingSecret (or externalRabbitmq.password)" -}}
{{- end -}}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) -}}
{{- fail "httpRoute.enabled=true needs httpRoute.parentRefs (the Gateway to attach to)" -}}
{{- end -}}
{{- if and $v.ingress.enabled $v.ingress.sse.enabled (le (mul (int64 $v.ingress.sse.readTimeoutSeconds) 1000) (int64 $v.live.heartbeatMs)) -}}
{{- fail "ingress.sse.readTimeoutSeconds must exceed live.heartbeatMs, or idle event streams are cut" -}}
{{- end -}}
{{- range $name := list "api" "consumer" -}}
{{- $a := (index $v $name).autoscaling -}}
{{- if and $a.enabled (gt (int $a.minReplicas) (int $a.maxReplicas)) -}}
{{- fail (printf "%s.autoscaling.minReplicas must not exceed maxReplicas" $name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Egress of the programs when networkPolicy.enabled: DNS, this release's data services on their
ports, and networkPolicy.egress.extraTo (external services, a Pushgateway…).
*/}}
{{- define "chat-system.egressRules" -}}
{{- $v := .Values -}}
- to:
    {{- toYaml $v.networkPolicy.egress.dnsTo | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- $services := list -}}
{{- $ports := list -}}
{{- range $name := list "mysql" "redis" "rabbitmq" "elasticsearch" -}}
{{- $sub := index $v $name -}}
{{- if $sub.enabled -}}
{{- $services = append $services $name -}}
{{- $ports = append $ports (int $sub.service.port) -}}
{{- end -}}
{{- end -}}
{{- if $services }}
- to:
    - podSelector:
        matchExpressions:
          - key: app.kubernetes.io/instance
            operator: In
            values:
              - {{ .Release.Name | quote }}
          - key: app.kubernetes.io/name
            operator: In
            values:
              {{- toYaml $services | nindent 14 }}
  ports:
    {{- range $ports }}
    - port: {{ . }}
      protocol: TCP
    {{- end }}
{{- end }}
{{- with $v.networkPolicy.egress.extraTo }}
{{ toYaml . }}
{{- end }}
{{- end -}}
