"""The whole DAG, end to end, in local mode: `airflow dags test` in a subprocess, as `make airflow-run`
runs it, against a fresh database on the embedded PostgreSQL, a local-folder lake and the bundled
sample data replayed on loopback (SpaceX API and CelesTrak)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow_helpers import AIRFLOW_HOME, DAGS, DS, clean_env


@pytest.mark.pipeline
def test_airflow_dags_test_produces_the_answer(
    airflow_db: Path, manifest: dict, warehouse_url: str, sample_replay, tmp_path: Path
) -> None:
    from starlink42k.datasets import NAMES as ALL_DATASETS

    lake = tmp_path / "lake"
    env = clean_env(
        STARLINK_EXECUTION="local",
        DATASETS=",".join(ALL_DATASETS),
        SPACEX_API_URL=sample_replay.spacex_url,
        CELESTRAK_URL=sample_replay.url,
        LAKE_URL=lake.as_uri(),
        WAREHOUSE_URL=warehouse_url,
        DATA_DIR=str(tmp_path / "data"),
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        PYTHONPATH=str(DAGS),
    )
    started = time.perf_counter()
    result = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), "dags", "test", "starlink_pipeline", DS],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
    )
    seconds = time.perf_counter() - started
    log = result.stdout + result.stderr
    (tmp_path / "dags-test.log").write_text(log)
    print(f"embedded `airflow dags test` run: {seconds:.0f} s (log: {tmp_path / 'dags-test.log'})")

    finished = re.findall(r"DagRun Finished: dag_id=starlink_pipeline, .*?state=(\w+)", log)
    assert finished == ["success"], log[-5000:]
    assert result.returncode == 0

    ended = set(re.findall(r"\[DAG TEST\] end task task_id=(\S+)", log))
    assert {"launches.load", "starlink.load", "report", "dbt_docs"} <= ended

    answer = json.loads((lake / "reports" / "starlink" / f"ds={DS}" / "answer.json").read_text())
    assert answer["ds"] == DS
    assert "freshness" in ended and {s["freshness"] for s in answer["sources"]} == {"pass", "warn"}
    # The new answer is an asset event, carrying its ds, for the DAGs scheduled on it.
    with sqlite3.connect(AIRFLOW_HOME / "airflow.db") as db:
        extras = db.execute(
            "select e.extra from asset_event e join asset a on a.id = e.asset_id where a.name = ?",
            ("starlink/report/answer",),
        ).fetchall()
    assert [json.loads(extra) for (extra,) in extras][-1] == {"ds": DS}
    assert answer["satellites_in_orbit"] > 0
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (lake / "dbt-docs" / name).stat().st_size > 0
