"""Helpers of the starlink_pipeline DAG (not DAG files: .airflowignore keeps the DAG processor out).

config        what the DAG reads from the environment (execution mode, datasets, manifest)
pod_defaults  everything pipeline pods share (images, security context, resources, labels)
kube_secrets  the catalogue of Kubernetes Secrets the pods read
alerts        retries and the Slack failure message
steps         the steps as tasks, in kubernetes or local mode
local         the local mode's glue (warehouse variables for dbt, docs into the local lake)
dbt_docs      dbt docs generation and who can read the served pages
"""
