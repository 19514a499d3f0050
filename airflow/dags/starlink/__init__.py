"""Helpers of the starlink_pipeline DAG (not DAG files: .airflowignore keeps the DAG processor out).

config        what the DAG reads from the environment and the dbt manifest (mode, datasets, tag)
tasks         the pipeline's steps as tasks, in kubernetes or local mode
pod_defaults  everything pipeline pods share (images, security context, resources, labels, settings)
kube_secrets  the catalogue of Kubernetes Secrets the pods read
alerts        retries and the Slack failure message
local         the local mode's glue: the CLI for dbt's warehouse variables and the docs upload
dbt_docs      dbt docs generation (serving and access: airflow/README.md)
"""
