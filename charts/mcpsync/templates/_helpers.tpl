{{/* The chart name, or nameOverride. */}}
{{- define "mcpsync.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the resources: fullnameOverride, else the release name when it contains
the chart name (release `mcpsync` gives `mcpsync`), else `<release>-<chart>`.
*/}}
{{- define "mcpsync.fullname" -}}
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

{{- define "mcpsync.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mcpsync.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mcpsync.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mcpsync.labels" -}}
helm.sh/chart: {{ include "mcpsync.chart" . }}
{{ include "mcpsync.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mcpsync
{{- end }}

{{- define "mcpsync.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mcpsync.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "mcpsync.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The operator's RBAC rules, the same as config/rbac.yaml's ClusterRole (a test keeps them
equal). "namespaced": what a Role in each watched namespace holds; "cluster": what only a
ClusterRole can grant (the cluster-scoped ClusterMcpRegistries). Without watchNamespaces
one ClusterRole holds both, in config/rbac.yaml's order.
*/}}
{{- define "mcpsync.rules.all" -}}
- apiGroups: [mcpsync.dev]
  resources: [mcpservers]
  verbs: [get, list, watch, patch]
- apiGroups: [mcpsync.dev]
  resources: [mcpregistries, clustermcpregistries]
  verbs: [get, list, watch]
- apiGroups: [mcpsync.dev]
  resources: [mcpservers/status, mcpregistries/status, clustermcpregistries/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{- define "mcpsync.rules.namespaced" -}}
- apiGroups: [mcpsync.dev]
  resources: [mcpservers]
  verbs: [get, list, watch, patch]
- apiGroups: [mcpsync.dev]
  resources: [mcpregistries]
  verbs: [get, list, watch]
- apiGroups: [mcpsync.dev]
  resources: [mcpservers/status, mcpregistries/status]
  verbs: [get, patch]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{- define "mcpsync.rules.cluster" -}}
- apiGroups: [mcpsync.dev]
  resources: [clustermcpregistries]
  verbs: [get, list, watch]
- apiGroups: [mcpsync.dev]
  resources: [clustermcpregistries/status]
  verbs: [get, patch]
{{- end }}

{{/* The subject of every binding: the operator's ServiceAccount. */}}
{{- define "mcpsync.subjects" -}}
subjects:
  - kind: ServiceAccount
    name: {{ include "mcpsync.serviceAccountName" . }}
    namespace: {{ .Release.Namespace }}
{{- end }}
