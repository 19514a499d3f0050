"""Reading answers from the lake, for DAGs scheduled on a new answer (starlink_answer_changed.py).

The lake is where the pipeline writes them: STARLINK_LAKE_URL with connection STARLINK_LAKE_CONN in
the cluster (k8s/airflow-values.yaml: s3://starlink-lake through lake_s3, the connection the task
logs use), else, locally, the CLI's own LAKE_URL (`starlink42k config LAKE_URL`).
"""

from __future__ import annotations

import json
import os
from typing import Any


def lake_url() -> str:
    url = os.environ.get("STARLINK_LAKE_URL", "").strip()
    if url:
        return url.rstrip("/")
    from . import local

    return local.run_cli("config", "LAKE_URL").strip().rstrip("/")


def answer_key(ds: str) -> str:
    """The pipeline's lake.report_prefix(ds) + answer.json: airflow/ imports nothing of the pipeline,
    so this is its one copy (tests/airflow/test_airflow_contracts.py checks that they agree)."""
    return f"reports/starlink/ds={ds}/answer.json"


def read(ds: str) -> dict[str, Any]:
    """The answer.json of ds, from the lake."""
    from airflow.sdk import ObjectStoragePath

    conn = os.environ.get("STARLINK_LAKE_CONN") or None
    path = ObjectStoragePath(f"{lake_url()}/{answer_key(ds)}", conn_id=conn)
    return json.loads(path.read_text())


def forecast_months(answer: dict[str, Any]) -> dict[str, str | None]:
    return {s["scenario"]: s["reaches_target_month"] for s in answer["scenarios"]}


def change_message(current: dict[str, Any], previous: dict[str, Any] | None) -> str | None:
    """The Slack text when a scenario's month changed (or for the first answer); None otherwise."""
    now = forecast_months(current)
    before = forecast_months(previous) if previous else {}
    if now == before:
        return None
    target = current["target_satellites"]
    lines = [f":satellite: Starlink {target:,}: the forecast changed (ds {current['ds']}, as of {current['as_of']})"]
    for scenario, month in now.items():
        was = f" (was {before.get(scenario) or 'never'})" if previous else ""
        lines.append(f"{scenario.replace('_', ' ')}: {month or 'never'}{was}")
    lines.append(f"{current['satellites_in_orbit']:,} in orbit, {current['launches_per_month']:.2f} launches a month")
    return "\n".join(lines)
