{{/* Names ------------------------------------------------------------------ */}}

{{- define "clef-pro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name; the API's resources carry it as is. */}}
{{- define "clef-pro.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "clef-pro.operatorName" -}}
{{- printf "%s-operator" (include "clef-pro.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clef-pro.migrationsName" -}}
{{- printf "%s-migrate" (include "clef-pro.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "clef-pro.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels ----------------------------------------------------------------- */}}

{{- define "clef-pro.labels" -}}
helm.sh/chart: {{ include "clef-pro.chart" . }}
app.kubernetes.io/name: {{ include "clef-pro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: clef-pro
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels added to the CRDs, which already carry app.kubernetes.io/part-of. */}}
{{- define "clef-pro.crdLabels" -}}
helm.sh/chart: {{ include "clef-pro.chart" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; pass (dict "context" $ "component" "api"). */}}
{{- define "clef-pro.selectorLabels" -}}
app.kubernetes.io/name: {{ include "clef-pro.name" .context }}
app.kubernetes.io/instance: {{ .context.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "clef-pro.componentLabels" -}}
{{ include "clef-pro.labels" .context }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Image ------------------------------------------------------------------ */}}

{{- define "clef-pro.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* ServiceAccounts -------------------------------------------------------- */}}

{{- define "clef-pro.apiServiceAccountName" -}}
{{- if .Values.api.serviceAccount.create }}
{{- default (include "clef-pro.fullname" .) .Values.api.serviceAccount.name }}
{{- else }}
{{- required "api.serviceAccount.name is required when api.serviceAccount.create is false" .Values.api.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "clef-pro.operatorServiceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "clef-pro.operatorName" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Secrets ---------------------------------------------------------------- */}}

{{- define "clef-pro.databaseSecretName" -}}
{{- if .Values.database.url }}
{{- printf "%s-database" (include "clef-pro.fullname" .) }}
{{- else }}
{{- required "set database.existingSecret (a Secret holding the database URL) or, for development, database.url" .Values.database.existingSecret }}
{{- end }}
{{- end }}

{{- define "clef-pro.databaseSecretKey" -}}
{{- if .Values.database.url }}url{{ else }}{{ .Values.database.existingSecretKey }}{{ end }}
{{- end }}

{{/* Empty when there is no admin token. */}}
{{- define "clef-pro.adminTokenSecretName" -}}
{{- if .Values.adminToken.existingSecret }}
{{- .Values.adminToken.existingSecret }}
{{- else if .Values.adminToken.generate }}
{{- printf "%s-admin-token" (include "clef-pro.fullname" .) }}
{{- end }}
{{- end }}

{{- define "clef-pro.adminTokenSecretKey" -}}
{{- if .Values.adminToken.existingSecret }}{{ .Values.adminToken.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* Empty when /metrics takes no token. */}}
{{- define "clef-pro.metricsTokenSecretName" -}}
{{- if .Values.api.metricsToken.existingSecret }}
{{- .Values.api.metricsToken.existingSecret }}
{{- else if .Values.api.metricsToken.generate }}
{{- printf "%s-metrics-token" (include "clef-pro.fullname" .) }}
{{- end }}
{{- end }}

{{- define "clef-pro.metricsTokenSecretKey" -}}
{{- if .Values.api.metricsToken.existingSecret }}{{ .Values.api.metricsToken.existingSecretKey }}{{ else }}token{{ end }}
{{- end }}

{{/* Empty when there is no SMTP password. */}}
{{- define "clef-pro.smtpSecretName" -}}
{{- if .Values.smtp.existingSecret }}
{{- .Values.smtp.existingSecret }}
{{- else if .Values.smtp.password }}
{{- printf "%s-smtp" (include "clef-pro.fullname" .) }}
{{- end }}
{{- end }}

{{- define "clef-pro.smtpSecretKey" -}}
{{- if .Values.smtp.existingSecret }}{{ .Values.smtp.existingSecretKey }}{{ else }}password{{ end }}
{{- end }}

{{/* Operator scope ---------------------------------------------------------- */}}

{{/* "true" when the operator watches every namespace. */}}
{{- define "clef-pro.allNamespaces" -}}
{{- if has "*" .Values.operator.watchNamespaces }}
{{- if gt (len .Values.operator.watchNamespaces) 1 }}
{{- fail "operator.watchNamespaces: \"*\" (every namespace) cannot be combined with namespace names" }}
{{- end }}
{{- true }}
{{- end }}
{{- end }}

{{/* The watched namespaces as a JSON list (empty list when watching all). */}}
{{- define "clef-pro.watchNamespaces" -}}
{{- if include "clef-pro.allNamespaces" . }}
{{- list | toJson }}
{{- else if .Values.operator.watchNamespaces }}
{{- .Values.operator.watchNamespaces | uniq | toJson }}
{{- else }}
{{- list .Release.Namespace | toJson }}
{{- end }}
{{- end }}

{{- define "clef-pro.peeringName" -}}
{{- default (include "clef-pro.fullname" .) .Values.operator.peering.name }}
{{- end }}

{{/* Service URLs ------------------------------------------------------------ */}}

{{- define "clef-pro.serviceUrl" -}}
{{- printf "http://%s.%s.svc:%d" (include "clef-pro.fullname" .) .Release.Namespace (int .Values.api.service.port) }}
{{- end }}

{{- define "clef-pro.publicUrl" -}}
{{- if .Values.api.publicUrl }}
{{- .Values.api.publicUrl }}
{{- else if .Values.api.ingress.enabled }}
{{- printf "%s://%s" (ternary "https" "http" .Values.api.ingress.tls.enabled) .Values.api.ingress.host }}
{{- else }}
{{- print "http://127.0.0.1:8000" }}
{{- end }}
{{- end }}

{{/* The database URL from its Secret; every container that talks to Postgres uses it. */}}
{{- define "clef-pro.databaseEnv" -}}
- name: CLEF_PRO_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "clef-pro.databaseSecretName" . }}
      key: {{ include "clef-pro.databaseSecretKey" . }}
- name: CLEF_PRO_DATA_DIR
  value: /tmp/clef-pro
- name: CLEF_PRO_AUTO_MIGRATE
  value: "false"
{{- end }}

{{/* The operator's rules in each watched namespace (see operator-rbac.yaml). */}}
{{- define "clef-pro.operatorWatchRules" }}
  - apiGroups: ["pro.clef.sh"]
    resources: ["integrations", "policies", "notificationchannels"]
    verbs: ["get", "list", "watch", "patch"]
  - apiGroups: ["pro.clef.sh"]
    resources: ["integrations/status", "policies/status", "notificationchannels/status"]
    verbs: ["get", "patch"]
  - apiGroups: ["pro.clef.sh"]
    resources: ["integrations/finalizers"]
    verbs: ["update"]
  - apiGroups: [""]
    resources: ["secrets"]
    verbs: ["get", "create", "patch", "delete"]
  - apiGroups: [""]
    resources: ["events"]
    verbs: ["create"]
{{- end }}
