"""Helpers of the DAGs (not DAG files: .airflowignore keeps the DAG processor out).

config        what the DAGs read from the environment and the dbt manifest (mode, datasets, tag)
tasks         the pipeline's steps as tasks, in kubernetes or local mode
operators     the steps' operators: the CLI as a process or a pod, a dbt init container before it
assets        the pipeline's data as Airflow assets (and OpenLineage datasets)
pod_defaults  everything pipeline pods share (images, security context, resources, labels, settings)
kube_secrets  the catalogue of Kubernetes Secrets the pods read
alerts        retries and the Slack messages
local         the local mode's glue: the CLI for dbt's warehouse variables and the docs upload
"""
