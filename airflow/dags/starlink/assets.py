"""The pipeline's data as Airflow assets: logical names, no host names, so the same graph holds on a
laptop and in the cluster. Each step declares what it reads (inlets) and writes (outlets); the UI's
asset graph then shows lake → warehouse → marts → report, and a DAG can be scheduled on a new
answer (starlink_answer_changed.py). The same names go to OpenLineage, in namespace `starlink`.

    starlink/raw/<source>/<dataset>        lake: the source's answer as sent (extract)
    starlink/curated/<source>/<dataset>    lake: typed CSV and rejects (to-csv)
    starlink/warehouse/raw.<dataset>       warehouse: the loaded partitions (load)
    starlink/warehouse/freshness           warehouse: the run's source freshness (freshness)
    starlink/warehouse/marts               warehouse: dbt's marts (dbt build)
    starlink/report/answer                 lake: answer.json, chart, report (report)
    starlink/docs/dbt                      lake: the dbt docs the UI serves (dbt docs)
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset

NAMESPACE = "starlink"


def raw(source: str, dataset: str) -> Asset:
    return Asset(f"{NAMESPACE}/raw/{source}/{dataset}")


def curated(source: str, dataset: str) -> Asset:
    return Asset(f"{NAMESPACE}/curated/{source}/{dataset}")


def warehouse_raw(dataset: str) -> Asset:
    return Asset(f"{NAMESPACE}/warehouse/raw.{dataset}")


FRESHNESS = Asset(f"{NAMESPACE}/warehouse/freshness")
MARTS = Asset(f"{NAMESPACE}/warehouse/marts")
ANSWER = Asset(f"{NAMESPACE}/report/answer")
DOCS = Asset(f"{NAMESPACE}/docs/dbt")


def step(command: str, source: str | None = None, dataset: str | None = None) -> dict[str, list[Asset]]:
    """The inlets and outlets of one CLI step."""
    if command == "extract":
        return {"inlets": [], "outlets": [raw(source, dataset)]}
    if command == "to-csv":
        return {"inlets": [raw(source, dataset)], "outlets": [curated(source, dataset)]}
    if command == "load":
        return {"inlets": [curated(source, dataset)], "outlets": [warehouse_raw(dataset)]}
    if command == "report":
        return {"inlets": [MARTS, FRESHNESS], "outlets": [ANSWER]}
    raise ValueError(f"no assets known for step {command!r}")


def openlineage_facets(task: Any) -> Any:
    """OpenLineage inputs and outputs of a task from its inlets and outlets: datasets named like the
    assets, in namespace `starlink` (OpenLineage's own asset conversion wants URIs with a scheme
    and a host, which these logical names do not have)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import Dataset

    def datasets(assets: list) -> list[Dataset]:
        return [Dataset(namespace=NAMESPACE, name=a.name.removeprefix(f"{NAMESPACE}/")) for a in assets]

    return OperatorLineage(inputs=datasets(task.inlets or []), outputs=datasets(task.outlets or []))
