"""Every Kubernetes Secret a pipeline pod reads, declared once. Secret names and keys are the
contract of charts/starlink-platform/templates/secrets.yaml; values never pass through Airflow:
the kubelet injects them (`secretKeyRef`), so no credential appears in a DAG, a pod spec or a log.
"""

from __future__ import annotations

from airflow.providers.cncf.kubernetes.secret import Secret

# Names of Kubernetes Secret objects, not secret values.
WAREHOUSE_SECRET = "warehouse-credentials"  # noqa: S105
LAKE_SECRET = "lake-credentials"  # noqa: S105

# --- warehouse ---------------------------------------------------------------------------------
# The CLI reads one URL; dbt's profiles.yml reads the parts with env_var().
WAREHOUSE_URL = Secret("env", "WAREHOUSE_URL", WAREHOUSE_SECRET, "url")
WAREHOUSE_HOST = Secret("env", "WAREHOUSE_HOST", WAREHOUSE_SECRET, "host")
WAREHOUSE_PORT = Secret("env", "WAREHOUSE_PORT", WAREHOUSE_SECRET, "port")
WAREHOUSE_USER = Secret("env", "WAREHOUSE_USER", WAREHOUSE_SECRET, "user")
WAREHOUSE_PASSWORD = Secret("env", "WAREHOUSE_PASSWORD", WAREHOUSE_SECRET, "password")
WAREHOUSE_DB = Secret("env", "WAREHOUSE_DB", WAREHOUSE_SECRET, "dbname")

# --- lake (MinIO, S3 API) ------------------------------------------------------------------------
LAKE_URL = Secret("env", "LAKE_URL", LAKE_SECRET, "lake-url")
S3_ENDPOINT_URL = Secret("env", "S3_ENDPOINT_URL", LAKE_SECRET, "endpoint-url")
AWS_ACCESS_KEY_ID = Secret("env", "AWS_ACCESS_KEY_ID", LAKE_SECRET, "access-key-id")
AWS_SECRET_ACCESS_KEY = Secret("env", "AWS_SECRET_ACCESS_KEY", LAKE_SECRET, "secret-access-key")
AWS_DEFAULT_REGION = Secret("env", "AWS_DEFAULT_REGION", LAKE_SECRET, "region")

# --- what each kind of pod gets ------------------------------------------------------------------
LAKE = [LAKE_URL, S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION]
# The CLI steps (extract, to-csv, load, report): the lake and the warehouse URL.
CLI = [*LAKE, WAREHOUSE_URL]
# dbt: only the warehouse, as the variables dbt/profiles.yml names.
DBT = [WAREHOUSE_HOST, WAREHOUSE_PORT, WAREHOUSE_USER, WAREHOUSE_PASSWORD, WAREHOUSE_DB]
