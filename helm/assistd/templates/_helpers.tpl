{{/* Chart name, truncated to a DNS label. */}}
{{- define "assistd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the release name, prefixed by the chart name unless it already contains it.
Component resources append "-<component>", so keep room for the longest (-vector-stores).
*/}}
{{- define "assistd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 48 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "assistd.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "assistd.labels" -}}
helm.sh/chart: {{ include "assistd.chart" . }}
{{ include "assistd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: assistd
{{- end }}

{{- define "assistd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "assistd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component; call with (dict "root" $ "component" "gateway"). */}}
{{- define "assistd.componentLabels" -}}
{{ include "assistd.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "assistd.componentSelectorLabels" -}}
{{ include "assistd.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "assistd.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "assistd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "assistd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret the chart creates for values given in plain text. */}}
{{- define "assistd.secretName" -}}
{{- include "assistd.fullname" . }}
{{- end }}

{{/* The in-cluster URL of a split-mode service, by its CLI name (e.g. vector_stores). */}}
{{- define "assistd.upstreamUrl" -}}
{{- printf "http://%s-%s:%v" (include "assistd.fullname" .root) (.service | replace "_" "-") .root.Values.service.port }}
{{- end }}

{{/*
Cross-field rules the JSON schema cannot say clearly. Included by every template that
depends on them, so `helm template` and `helm install` fail with one plain sentence.
*/}}
{{- define "assistd.validate" -}}
{{- $db := or .Values.database.url .Values.database.existingSecret }}
{{- if .Values.embedded }}
{{- if ne .Values.mode "allInOne" }}
{{- fail "embedded=true runs a single all-in-one pod on SQLite: use mode=allInOne, or set embedded=false and database.url (or database.existingSecret) for mode=split" }}
{{- end }}
{{- if $db }}
{{- fail "embedded=true keeps the database in SQLite on the data volume: unset database.url and database.existingSecret, or set embedded=false to use PostgreSQL" }}
{{- end }}
{{- else if not $db }}
{{- fail "embedded=false needs an external database: set database.url (postgres://USER:PASSWORD@HOST:5432/DB) or database.existingSecret, or set embedded=true for a single-pod SQLite install" }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownTimeoutSeconds) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must be above shutdownTimeoutSeconds (%v), or Kubernetes kills pods before open streams finish" .Values.terminationGracePeriodSeconds .Values.shutdownTimeoutSeconds) }}
{{- end }}
{{- if and .Values.persistence.existingClaim (not (or .Values.embedded .Values.persistence.enabled)) }}
{{- fail "persistence.existingClaim is set but the data volume is off: set persistence.enabled=true (or embedded=true)" }}
{{- end }}
{{- if and (eq (toString .Values.sandbox.securityContext.procMount) "Unmasked") (not .Values.sandbox.userNamespace) }}
{{- fail "sandbox.securityContext.procMount=Unmasked needs the pod's own user namespace (hostUsers: false): set sandbox.userNamespace=true instead, which sets both" }}
{{- end }}
{{- end }}

{{/* Whether a data volume (PVC) is used at all. */}}
{{- define "assistd.persistent" -}}
{{- if or .Values.embedded .Values.persistence.enabled }}true{{ end }}
{{- end }}

{{- define "assistd.claimName" -}}
{{- .Values.persistence.existingClaim | default (printf "%s-data" (include "assistd.fullname" .)) }}
{{- end }}

{{/*
The Deployments to render, as a YAML list under `items`. Each item:
  name       resource name
  component  app.kubernetes.io/component
  args       the assistd command line
  cfg        the values block (replicaCount, autoscaling, resources, extraArgs)
  backends   whether it gets the database, blob store and backend settings (the
             gateway only forwards requests and needs none of them)
  service    whether it gets a Service (the gateway's is named after the release)
  data       "pvc" or "emptyDir" for the data directory
  models     whether the image's model files are copied in (models.copyFromImage)
  sandbox    its ASSISTD_SANDBOX: "local" where sessions run in the pod (the all-in-one
             pods, the split sandbox service), "remote" where runs call the sandbox
             service, "off" where no cell ever runs
*/}}
{{- define "assistd.components" -}}
{{- $fullname := include "assistd.fullname" . }}
{{- $persistent := include "assistd.persistent" . }}
{{- $auth := list }}
{{- if .Values.auth.insecureNoAuth }}{{ $auth = list "--insecure-no-auth" }}{{ end }}
{{- $sandbox := .Values.sandbox.enabled }}
{{- $sandboxUpstream := list "--upstream" (printf "sandbox=%s" (include "assistd.upstreamUrl" (dict "root" . "service" "sandbox"))) }}
{{- $items := list }}
{{- if eq .Values.mode "allInOne" }}
{{- $args := concat (list "serve") $auth .Values.allInOne.extraArgs }}
{{- $items = append $items (dict "name" $fullname "component" "server" "args" $args "cfg" .Values.allInOne "backends" true "service" true "data" (ternary "pvc" "emptyDir" (eq $persistent "true")) "models" true "sandbox" (ternary "local" "off" $sandbox)) }}
{{- else }}
{{- /* service CLI name, values key, the services it calls */ -}}
{{- $services := list
  (list "assistants" "assistants" (list "files" "vector_stores"))
  (list "threads" "threads" (list "files" "vector_stores"))
  (list "runs" "runs" (list "assistants" "threads" "files" "vector_stores"))
  (list "files" "files" (list))
  (list "vector_stores" "vectorStores" (list "files"))
  (list "conversations" "conversations" (list))
  (list "responses" "responses" (list "conversations" "vector_stores" "files")) }}
{{- $gatewayArgs := list "gateway" }}
{{- range $s := $services }}
{{- $gatewayArgs = concat $gatewayArgs (list "--upstream" (printf "%s=%s" (index $s 0) (include "assistd.upstreamUrl" (dict "root" $ "service" (index $s 0))))) }}
{{- end }}
{{- $gatewayArgs = concat $gatewayArgs $auth .Values.split.gateway.extraArgs }}
{{- $items = append $items (dict "name" (printf "%s-gateway" $fullname) "component" "gateway" "args" $gatewayArgs "cfg" .Values.split.gateway "backends" false "service" true "data" "emptyDir" "models" false "sandbox" "off") }}
{{- range $s := $services }}
{{- $cli := index $s 0 }}
{{- $cfg := index $.Values.split (index $s 1) }}
{{- $args := list "serve" "--only" $cli }}
{{- range $up := index $s 2 }}
{{- $args = concat $args (list "--upstream" (printf "%s=%s" $up (include "assistd.upstreamUrl" (dict "root" $ "service" $up)))) }}
{{- end }}
{{- /* runs and responses execute code_interpreter cells in the sandbox service; no other service runs any */ -}}
{{- $mode := "off" }}
{{- if and (has $cli (list "runs" "responses")) $sandbox }}
{{- $args = concat $args $sandboxUpstream }}
{{- $mode = "remote" }}
{{- end }}
{{- $args = concat $args $auth $cfg.extraArgs }}
{{- $data := ternary "pvc" "emptyDir" (and (eq $cli "files") (eq $persistent "true")) }}
{{- $models := has $cli (list "runs" "vector_stores" "responses") }}
{{- $items = append $items (dict "name" (printf "%s-%s" $fullname ($cli | replace "_" "-")) "component" ($cli | replace "_" "-") "args" $args "cfg" $cfg "backends" true "service" true "data" $data "models" $models "sandbox" $mode) }}
{{- end }}
{{- if $sandbox }}
{{- /* the sessions: no database, blob store or backend credentials in these pods */ -}}
{{- $args := concat (list "serve" "--only" "sandbox") $auth .Values.split.sandbox.extraArgs }}
{{- $items = append $items (dict "name" (printf "%s-sandbox" $fullname) "component" "sandbox" "args" $args "cfg" .Values.split.sandbox "backends" false "service" true "data" "emptyDir" "models" false "sandbox" "local") }}
{{- end }}
{{- if .Values.worker.enabled }}
{{- $args := list "worker" }}
{{- range $up := list "assistants" "threads" "files" "vector_stores" }}
{{- $args = concat $args (list "--upstream" (printf "%s=%s" $up (include "assistd.upstreamUrl" (dict "root" $ "service" $up)))) }}
{{- end }}
{{- if $sandbox }}
{{- $args = concat $args $sandboxUpstream }}
{{- end }}
{{- $args = concat $args .Values.worker.extraArgs }}
{{- $items = append $items (dict "name" (printf "%s-worker" $fullname) "component" "worker" "args" $args "cfg" .Values.worker "backends" true "service" false "data" "emptyDir" "models" true "sandbox" (ternary "remote" "off" $sandbox)) }}
{{- end }}
{{- end }}
{{- toYaml (dict "items" $items) }}
{{- end }}

{{/*
The container securityContext of a pod that hosts sandbox sessions: sandbox.securityContext,
with procMount Unmasked under sandbox.userNamespace, and without appArmorProfile before
Kubernetes 1.30 (the field is new there; see assistd.sandboxAppArmorAnnotation).
*/}}
{{- define "assistd.sandboxSecurityContext" -}}
{{- $sc := deepCopy .Values.sandbox.securityContext }}
{{- if .Values.sandbox.userNamespace }}
{{- $_ := set $sc "procMount" "Unmasked" }}
{{- end }}
{{- if not (include "assistd.appArmorField" .) }}
{{- $_ := unset $sc "appArmorProfile" }}
{{- end }}
{{- toYaml $sc }}
{{- end }}

{{/* Whether the cluster has the securityContext appArmorProfile field (Kubernetes >= 1.30). */}}
{{- define "assistd.appArmorField" -}}
{{- if semverCompare ">=1.30-0" .Capabilities.KubeVersion.Version }}true{{ end }}
{{- end }}

{{/*
Before Kubernetes 1.30, sandbox.securityContext.appArmorProfile as the value of the
container.apparmor.security.beta.kubernetes.io/assistd annotation; empty otherwise.
*/}}
{{- define "assistd.sandboxAppArmorAnnotation" -}}
{{- if not (include "assistd.appArmorField" .) }}
{{- with .Values.sandbox.securityContext.appArmorProfile }}
{{- if eq .type "Unconfined" }}unconfined
{{- else if eq .type "RuntimeDefault" }}runtime/default
{{- else if eq .type "Localhost" }}localhost/{{ .localhostProfile }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* Replicas a component runs with: 1 in embedded mode, else its replicaCount. */}}
{{- define "assistd.replicas" -}}
{{- if .root.Values.embedded }}1{{ else }}{{ .cfg.replicaCount }}{{ end }}
{{- end }}

{{/* Whether a component is scaled by an HPA (never in embedded mode). */}}
{{- define "assistd.autoscaled" -}}
{{- if and (not .root.Values.embedded) .cfg.autoscaling.enabled }}true{{ end }}
{{- end }}

{{/* An env var read from a Secret. Call with (dict "name" NAME "secret" S "key" K). */}}
{{- define "assistd.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .secret }}
      key: {{ .key }}
{{- end }}

{{/* ASSISTD_DATABASE_URL; call with (dict "root" $ "secret" NAME-OF-CHART-SECRET). */}}
{{- define "assistd.databaseEnv" -}}
{{- $db := .root.Values.database }}
{{- if $db.existingSecret }}
{{- include "assistd.secretEnv" (dict "name" "ASSISTD_DATABASE_URL" "secret" $db.existingSecret "key" $db.existingSecretKey) }}
{{- else if $db.url }}
{{- include "assistd.secretEnv" (dict "name" "ASSISTD_DATABASE_URL" "secret" .secret "key" "database-url") }}
{{- end }}
{{- end }}

{{/* Logging and tracing variables shared by the Deployments and the migration Job. */}}
{{- define "assistd.observabilityEnv" -}}
- name: ASSISTD_LOG
  value: {{ .root.Values.log.level | quote }}
{{- if eq .root.Values.log.format "json" }}
- name: ASSISTD_LOG_FORMAT
  value: json
{{- end }}
{{- with .root.Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ ternary "assistd" (printf "assistd-%s" $.component) (eq $.component "server") | quote }}
{{- end }}
{{- end }}

{{/*
The environment of an assistd container (DESIGN.md §8 names).
Call with (dict "root" $ "c" COMPONENT).
*/}}
{{- define "assistd.env" -}}
{{- $v := .root.Values }}
{{- $secret := include "assistd.secretName" .root -}}
- name: ASSISTD_LISTEN
  value: "0.0.0.0:8080"
- name: ASSISTD_DATA_DIR
  value: {{ $v.dataDir | quote }}
- name: ASSISTD_SHUTDOWN_TIMEOUT
  value: {{ $v.shutdownTimeoutSeconds | quote }}
{{- if $v.auth.existingSecret }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_API_KEYS" "secret" $v.auth.existingSecret "key" $v.auth.existingSecretKey) }}
{{- else if or $v.auth.apiKeys (not $v.auth.insecureNoAuth) }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_API_KEYS" "secret" $secret "key" "api-keys") }}
{{- end }}
{{- if .c.backends }}
{{- with (include "assistd.databaseEnv" (dict "root" .root "secret" $secret)) }}
{{ . }}
{{- end }}
{{- if $v.database.maxConnections }}
- name: ASSISTD_DB_MAX_CONNECTIONS
  value: {{ $v.database.maxConnections | quote }}
{{- end }}
{{- with $v.objectStore }}
- name: ASSISTD_OBJECT_STORE
  value: {{ . | quote }}
{{- end }}
{{- if $v.qdrant.existingSecret }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_QDRANT_URL" "secret" $v.qdrant.existingSecret "key" $v.qdrant.existingSecretKey) }}
{{- else if $v.qdrant.url }}
- name: ASSISTD_QDRANT_URL
  value: {{ $v.qdrant.url | quote }}
{{- end }}
{{- if and $v.qdrant.existingSecret $v.qdrant.existingSecretApiKeyKey }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_QDRANT_API_KEY" "secret" $v.qdrant.existingSecret "key" $v.qdrant.existingSecretApiKeyKey) }}
{{- else if $v.qdrant.apiKey }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_QDRANT_API_KEY" "secret" $secret "key" "qdrant-api-key") }}
{{- end }}
{{- with $v.llm.baseUrl }}
- name: ASSISTD_LLM_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- if $v.llm.existingSecret }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_LLM_API_KEY" "secret" $v.llm.existingSecret "key" $v.llm.existingSecretKey) }}
{{- else if $v.llm.apiKey }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_LLM_API_KEY" "secret" $secret "key" "llm-api-key") }}
{{- end }}
{{- with $v.embeddings.baseUrl }}
- name: ASSISTD_EMBEDDINGS_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with $v.embeddings.model }}
- name: ASSISTD_EMBEDDINGS_MODEL
  value: {{ . | quote }}
{{- end }}
{{- if $v.embeddings.existingSecret }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_EMBEDDINGS_API_KEY" "secret" $v.embeddings.existingSecret "key" $v.embeddings.existingSecretKey) }}
{{- else if $v.embeddings.apiKey }}
{{ include "assistd.secretEnv" (dict "name" "ASSISTD_EMBEDDINGS_API_KEY" "secret" $secret "key" "embeddings-api-key") }}
{{- end }}
{{- end }}
- name: ASSISTD_SANDBOX
  value: {{ .c.sandbox | quote }}
{{- if eq .c.sandbox "local" }}
{{- range $name, $key := dict "ASSISTD_SANDBOX_TIMEOUT" "timeoutSeconds" "ASSISTD_SANDBOX_MEMORY_MB" "memoryMb" "ASSISTD_SANDBOX_SESSIONS" "sessions" "ASSISTD_SANDBOX_IDLE" "idleSeconds" }}
{{- $value := index $v.sandbox $key }}
{{- if not (kindIs "invalid" $value) }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if $v.configToml }}
- name: ASSISTD_CONFIG
  value: /etc/assistd/assistd.toml
{{- end }}
{{ include "assistd.observabilityEnv" (dict "root" .root "component" .c.component) }}
{{- with $v.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
