"""starlink_pipeline: when will there be 42,000 Starlink satellites in orbit?

Daily, for one logical date `ds`: each dataset is extracted to the lake, curated to CSV and
loaded into the warehouse (datasets in parallel); the freshness gate checks the sources as of ds
(a CelesTrak catalogue past its error threshold stops the run here, with an alert); dbt builds
staging, intermediate and marts for that ds; `report` writes answer.json, the chart and the report
(a new answer: starlink_answer_changed.py is scheduled on it); dbt docs are published for the UI.

Every step is idempotent per ds, so any ds can be rerun (clear it) or backfilled
(`airflow backfill create --dag-id starlink_pipeline --from-date ... --to-date ...`) and gives the
same result. Where the steps run (pods or local subprocesses) is decided once, by
STARLINK_EXECUTION; the datasets by DATASETS: see starlink/config.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# The operator modules the steps use, named here because Airflow's DAG processor imports the
# airflow modules a DAG file names once, before it forks a parser per file
# (parsing_pre_import_modules): each parse then skips 1-3.5 s of imports
# (tests/benchmarks/bench_parse.py).
import airflow.providers.cncf.kubernetes.operators.pod
import airflow.providers.standard.operators.bash  # noqa: F401
from airflow.sdk import DAG, TaskGroup
from starlink import alerts, config, tasks

steps = tasks.Steps()  # the execution mode's tasks (pods or local processes), chosen once

with DAG(
    dag_id="starlink_pipeline",
    description="When will there be 42,000 Starlink satellites in orbit?",
    doc_md=__doc__,
    schedule="@daily",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,  # backfills are explicit (`airflow backfill create`), never a surprise on deploy
    max_active_runs=1,  # runs share the warehouse's marts: one ds at a time
    # Worker pods at once (tasks queued or running; the dbt models' tasks wait in the triggerer and
    # do not count): the DAG's widest step, the three datasets' ingest. A 2-CPU kind node has room
    # for three workers and their pods beside Airflow and the platform (tests/benchmarks/dag_cost.py);
    # more, e.g. models retried on their own at once, would wait for CPU.
    max_active_tasks=3,
    dagrun_timeout=timedelta(hours=3),
    default_args=alerts.default_args(),
    on_failure_callback=alerts.run_failed(),
    tags=["starlink42k", steps.mode],
) as dag:
    loaded = []
    datasets = config.datasets()
    for dataset in datasets:
        with TaskGroup(group_id=dataset):
            extract = steps.cli("extract", dataset)
            to_csv = steps.cli("to-csv", dataset)
            load = steps.cli("load", dataset)
            extract >> to_csv >> load
        loaded.append(load)

    freshness = steps.freshness(datasets)
    dbt = steps.dbt_build()
    report = steps.report()
    docs = steps.dbt_docs()

    loaded >> freshness >> dbt >> [report, docs]
