{{/*
Names. Object names derive from the release name, so release `starlink` gives the names the
DAGs and the Airflow values use (starlink-minio, starlink-warehouse). Secret names are a
contract of their own and do not depend on the release name.
*/}}
{{- define "starlink.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "starlink.minio.name" -}}
{{- printf "%s-minio" (include "starlink.fullname" .) -}}
{{- end -}}

{{- define "starlink.warehouse.name" -}}
{{- printf "%s-warehouse" (include "starlink.fullname" .) -}}
{{- end -}}

{{/*
Names the DAGs and the Airflow values code against (airflow/dags/starlink/kube_secrets.py,
pod_defaults.py, k8s/airflow-values.yaml), each defined here once; tests/test_contracts.py checks
every name and key they use against a render of this chart.
*/}}
{{- define "starlink.secret.warehouse" -}}warehouse-credentials{{- end -}}
{{- define "starlink.secret.lake" -}}lake-credentials{{- end -}}
{{- define "starlink.secret.lakeConnection" -}}airflow-lake-connection{{- end -}}
{{- define "starlink.secret.fernetKey" -}}airflow-fernet-key{{- end -}}
{{- define "starlink.secret.apiSecretKey" -}}airflow-api-secret-key{{- end -}}
{{- define "starlink.secret.jwtSecret" -}}airflow-jwt-secret{{- end -}}
{{- define "starlink.configMap.settings" -}}pipeline-settings{{- end -}}
{{/* Observability (observability.enabled): the read-only warehouse login, and what Grafana reads in
observability.namespace (k8s/grafana-values.yaml names the Secret; its sidecar finds the ConfigMap by label). */}}
{{- define "starlink.secret.warehouseReader" -}}warehouse-reader-credentials{{- end -}}
{{- define "starlink.secret.grafanaWarehouse" -}}grafana-warehouse-datasource{{- end -}}
{{- define "starlink.configMap.dashboards" -}}starlink42k-dashboards{{- end -}}

{{/* MinIO's root (the server and the hook that creates buckets, users and policies only) and the
scoped identities of Airflow (its logs bucket) and of the backups; the pipeline's is `lake-credentials`. */}}
{{- define "starlink.secret.minioRoot" -}}
{{- printf "%s-root" (include "starlink.minio.name" .) -}}
{{- end -}}
{{- define "starlink.secret.minioAirflow" -}}
{{- printf "%s-airflow" (include "starlink.minio.name" .) -}}
{{- end -}}
{{- define "starlink.secret.minioBackup" -}}
{{- printf "%s-backup" (include "starlink.minio.name" .) -}}
{{- end -}}
{{/* Airflow's metadata database on the warehouse's server: its connection, in airflowNamespace
(k8s/airflow-values.yaml: data.metadataSecretName), and its role's password here. */}}
{{- define "starlink.secret.airflowMetadata" -}}airflow-metadata{{- end -}}
{{- define "starlink.secret.airflowDatabase" -}}
{{- printf "%s-airflow-db" (include "starlink.warehouse.name" .) -}}
{{- end -}}

{{/* The warehouse's superuser password: read by the warehouse container only. */}}
{{- define "starlink.secret.warehouseSuperuser" -}}
{{- printf "%s-superuser" (include "starlink.warehouse.name" .) -}}
{{- end -}}

{{- define "starlink.exporter.name" -}}
{{- printf "%s-exporter" (include "starlink.warehouse.name" .) -}}
{{- end -}}

{{- define "starlink.reader.name" -}}
{{- printf "%s-reader" (include "starlink.warehouse.name" .) -}}
{{- end -}}

{{- define "starlink.apiReplay.name" -}}
{{- printf "%s-api-replay" (include "starlink.fullname" .) -}}
{{- end -}}

{{/* In-cluster DNS names, as written into the credentials Secrets. */}}
{{- define "starlink.warehouse.host" -}}
{{- printf "%s.%s.svc.%s" (include "starlink.warehouse.name" .) .Release.Namespace .Values.clusterDomain -}}
{{- end -}}

{{- define "starlink.minio.endpoint" -}}
{{- printf "http://%s.%s.svc.%s:%d" (include "starlink.minio.name" .) .Release.Namespace .Values.clusterDomain (int .Values.minio.ports.s3) -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "starlink.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/part-of: starlink42k
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}

{{/*
Selector labels of one component: (list $ "component-name").
*/}}
{{- define "starlink.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/*
All labels of one component's objects and pods: (list $ "name" "component").
*/}}
{{- define "starlink.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "starlink.labels" $root }}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/component: {{ index . 2 }}
{{- end -}}

{{/* "repository:tag"; the schema refuses empty and `latest` tags. */}}
{{- define "starlink.image" -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}

{{/*
The hardened container securityContext every container of this chart runs with.
*/}}
{{- define "starlink.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Pod securityContext for a given uid/gid: (list uid gid).
*/}}
{{- define "starlink.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ index . 0 }}
runAsGroup: {{ index . 1 }}
fsGroup: {{ index . 1 }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
A credential: the value given in values, else the one already stored in the live Secret
(so `helm upgrade` keeps it), else the freshly generated one.
Call with (list given existingSecretOrEmptyDict key generated).
`lookup` returns nothing under `helm template` and `--dry-run`, so renders there always
show fresh random values.
*/}}
{{- define "starlink.credential" -}}
{{- $given := index . 0 -}}
{{- $existing := index . 1 -}}
{{- $key := index . 2 -}}
{{- $generated := index . 3 -}}
{{- $stored := dig "data" $key "" $existing -}}
{{- if $given -}}
{{- $given -}}
{{- else if $stored -}}
{{- $stored | b64dec -}}
{{- else -}}
{{- $generated -}}
{{- end -}}
{{- end -}}

{{/* Annotations of generated Secrets: `helm uninstall` leaves them (and the data they unlock) in place. */}}
{{- define "starlink.secretAnnotations" -}}
helm.sh/resource-policy: keep
{{- end -}}

{{/* Egress rule to the cluster DNS (CoreDNS pods in kube-system, label k8s-app=kube-dns). */}}
{{- define "starlink.dnsEgress" -}}
- to:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: kube-system
      podSelector:
        matchLabels:
          k8s-app: kube-dns
  ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end -}}
