"""Helpers of the DAGs (not DAG files: .airflowignore keeps the DAG processor out).

config      what the DAGs read from the environment and the dbt manifest (mode, datasets, tag)
tasks       the pipeline's steps as tasks: what each runs and reads and writes; picks the mode once
kubernetes  the kubernetes mode: pod defaults, Secrets, the pod operators, the freshness, dbt and
            docs pods, dbt's per-model tasks in the triggerer
local       the local mode: the CLI as processes, dbt through cosmos' local mode
operators   what both modes' operators add: the CLI's error line, the freshness verdict, lineage
assets      the pipeline's data as Airflow assets (and OpenLineage datasets)
alerts      retries and the Slack messages
answers     reading answers from the lake (starlink_answer_changed)
"""
