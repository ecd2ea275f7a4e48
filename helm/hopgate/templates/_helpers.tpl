{{/* Names */}}
{{- define "hopgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hopgate.fullname" -}}
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

{{/* Labels: include "hopgate.labels" (dict "ctx" $ "component" "ingress") */}}
{{- define "hopgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hopgate.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hopgate.labels" -}}
{{ include "hopgate.selectorLabels" . }}
app.kubernetes.io/part-of: hopgate
app.kubernetes.io/version: {{ include "hopgate.tag" .ctx | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* One tag for every HopGate image */}}
{{- define "hopgate.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}

{{/* include "hopgate.image" (dict "ctx" $ "image" "ingress") */}}
{{- define "hopgate.image" -}}
{{- printf "%shopgate/%s:%s" .ctx.Values.image.registry .image (include "hopgate.tag" .ctx) -}}
{{- end -}}

{{- define "hopgate.redisUrl" -}}
{{- if .Values.redis.bundled.enabled -}}
{{- printf "redis://%s-redis:6379" (include "hopgate.fullname" .) -}}
{{- else -}}
{{- .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{- define "hopgate.natsUrl" -}}
{{- if .Values.nats.bundled.enabled -}}
{{- printf "nats://%s-nats:4222" (include "hopgate.fullname" .) -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{- define "hopgate.cookieSecretName" -}}
{{- default (printf "%s-hub-cookie" (include "hopgate.fullname" .)) .Values.hub.cookieSecret.existingSecret -}}
{{- end -}}

{{/* terminationGracePeriodSeconds: include "hopgate.grace" (dict "ctx" $ "own" .Values.ingress.terminationGracePeriodSeconds "delayMs" .Values.drain.delayMs) */}}
{{- define "hopgate.grace" -}}
{{- $drainMs := add .delayMs .ctx.Values.drain.timeoutMs -}}
{{- $drainS := div (add $drainMs 999) 1000 -}}
{{- if kindIs "invalid" .own -}}
{{- add $drainS .ctx.Values.drain.stopMarginSeconds -}}
{{- else if le (int .own) (int $drainS) -}}
{{- fail (printf "terminationGracePeriodSeconds %v must be above the drain delay + drain.timeoutMs (%d s)" .own $drainS) -}}
{{- else -}}
{{- .own -}}
{{- end -}}
{{- end -}}

{{/* Env entries every service gets: Redis and NATS credentials from the existingSecret. */}}
{{- define "hopgate.secretEnv" -}}
{{- if and .Values.redis.existingSecret .Values.redis.existingSecretKeys.url (not .Values.redis.bundled.enabled) }}
- name: HOPGATE_REDIS_URL
  valueFrom:
    secretKeyRef: { name: {{ .Values.redis.existingSecret | quote }}, key: {{ .Values.redis.existingSecretKeys.url | quote }} }
{{- end }}
{{- if and .Values.nats.existingSecret (not .Values.nats.bundled.enabled) }}
{{- range $var, $key := dict "HOPGATE_NATS_USER" .Values.nats.existingSecretKeys.user "HOPGATE_NATS_PASSWORD" .Values.nats.existingSecretKeys.password "HOPGATE_NATS_TOKEN" .Values.nats.existingSecretKeys.token }}
{{- if $key }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef: { name: {{ $.Values.nats.existingSecret | quote }}, key: {{ $key | quote }} }
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod-level scheduling of a component: include "hopgate.scheduling" .Values.ingress */}}
{{- define "hopgate.scheduling" -}}
{{- with .nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Probes on the ops port (docs/operations.md "Health, readiness and drain"). */}}
{{- define "hopgate.probes" -}}
startupProbe:
  httpGet: { path: /healthz, port: ops }
  {{- toYaml .Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: { path: /healthz, port: ops }
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: { path: /readyz, port: ops }
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}

{{- define "hopgate.podSecurity" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- end -}}

{{/* Checksums of what the pods read, so that a change rolls them. */}}
{{- define "hopgate.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- end -}}
