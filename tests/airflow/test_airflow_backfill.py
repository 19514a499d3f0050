"""`airflow backfill create` over a range of past dates: a real scheduler (with the API server its
task runners report to) runs the DAG in local mode (STARLINK_EXECUTION=local, as `make airflow-run`)
for each ds, against the bundled sample data on loopback, an embedded PostgreSQL and a local lake.
Each ds gets its own point-in-time answer, whose in-orbit count must equal the count made here from
the raw SATCAT records. Slow tier: two whole DAG runs, about half an hour on a busy 2-core machine."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from airflow_helpers import BIN, DAGS, clean_env

from starlink42k.replay import SAMPLE_DIR
from support.net import free_port, wait_for_port
from support.point_in_time import in_orbit_satcat, starlink_payloads

pytestmark = [pytest.mark.pipeline, pytest.mark.timeout(3600)]
DAG_ID = "starlink_pipeline"


def satcat() -> list[dict]:
    return json.loads(gzip.decompress((SAMPLE_DIR / "celestrak_satcat.json.gz").read_bytes()))


def backfill_range(records: list[dict]) -> tuple[date, date]:
    """The day before a 2024 launch and the launch day: the two answers must differ by what it carried."""
    launches = sorted({r["LAUNCH_DATE"] for r in starlink_payloads(records) if (r["LAUNCH_DATE"] or "") >= "2024-03"})
    day = date.fromisoformat(launches[0])
    return day - timedelta(days=1), day


@pytest.fixture
def airflow_env(manifest: dict, warehouse_url: str, sample_replay, tmp_path: Path) -> dict[str, str]:
    """An Airflow of its own (SQLite metadata, free ports) over the pipeline's local mode."""
    home = tmp_path / "airflow"
    api_port = free_port()
    return clean_env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__COSMOS__CACHE_DIR=str(home / "cosmos"),
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(api_port),
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{api_port}",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        # Only the backfill's runs: no scheduled run of today's interval on unpausing.
        AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE="False",
        # Each task parses the DAG (cosmos renders the dbt tasks from the manifest): slow on a busy machine.
        AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT="600",
        AIRFLOW__CORE__PARALLELISM="2",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        PYTHONPATH=str(DAGS),
        STARLINK_EXECUTION="local",
        DATASETS="launches,starlink,satcat",
        SPACEX_API_URL=sample_replay.spacex_url,
        CELESTRAK_URL=sample_replay.url,
        LAKE_URL=(tmp_path / "lake").as_uri(),
        WAREHOUSE_URL=warehouse_url,
        DATA_DIR=str(tmp_path / "data"),
    )


def airflow(env: dict[str, str], *args: str, timeout: float = 600) -> str:
    result = subprocess.run([str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"airflow {' '.join(args)}:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture
def scheduler(airflow_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """The metadata database with the DAG serialized and unpaused, then the API server and the
    scheduler (LocalExecutor), each in its own process group, stopped at the end."""
    airflow(airflow_env, "db", "migrate")
    airflow(airflow_env, "dags", "reserialize")
    airflow(airflow_env, "dags", "unpause", DAG_ID)
    processes = []
    for component in ("api-server", "scheduler"):
        log = (tmp_path / f"{component}.log").open("w")
        processes.append(
            subprocess.Popen(
                [str(BIN / "airflow"), component],
                env=airflow_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    try:
        wait_for_port(int(airflow_env["AIRFLOW__API__PORT"]), timeout=300)
        yield Path(airflow_env["AIRFLOW_HOME"]) / "airflow.db"
    finally:
        for proc in processes:
            with_group(proc, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                with_group(proc, signal.SIGKILL)
                proc.wait(10)


def with_group(proc: subprocess.Popen, sig: int) -> None:
    """Signal the process group this test started (the component and the workers it forked)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def wait_for_runs(db: Path, count: int, timeout: float) -> dict[str, str]:
    """logical date -> state of the backfill's DAG runs, once all ``count`` have finished."""
    deadline = time.monotonic() + timeout
    while True:
        with sqlite3.connect(db) as conn:
            runs = dict(conn.execute("select logical_date, state from dag_run where run_type = 'backfill'"))
        if len(runs) == count and all(state in ("success", "failed") for state in runs.values()):
            return {day[:10]: state for day, state in runs.items()}
        assert time.monotonic() < deadline, f"the backfill has not finished: {runs}"
        time.sleep(10)


def test_airflow_backfill_gives_one_point_in_time_answer_per_ds(
    airflow_env: dict[str, str], scheduler: Path, tmp_path: Path
) -> None:
    records = satcat()
    first, last = backfill_range(records)
    # One run at a time: the runs share the warehouse's marts (the DAG's max_active_runs says so too).
    airflow(airflow_env, "backfill", "create", "--dag-id", DAG_ID, "--from-date", first.isoformat(),
            "--to-date", last.isoformat(), "--max-active-runs", "1")  # fmt: skip
    days = [first.isoformat(), last.isoformat()]
    assert wait_for_runs(scheduler, len(days), timeout=3300) == dict.fromkeys(days, "success")

    answers = {ds: json.loads((tmp_path / f"lake/reports/starlink/ds={ds}/answer.json").read_bytes()) for ds in days}
    for ds, answer in answers.items():
        assert (answer["ds"], answer["as_of"], answer["snapshot_ds"]) == (ds, ds, ds)
        assert answer["satellites_in_orbit"] == in_orbit_satcat(records, date.fromisoformat(ds)), ds
    assert answers[days[1]]["satellites_in_orbit"] > answers[days[0]]["satellites_in_orbit"]
    with psycopg.connect(airflow_env["WAREHOUSE_URL"]) as conn:
        series = conn.execute(
            "select ds::text, satellites_in_orbit from marts.fct_constellation_daily order by ds"
        ).fetchall()
    assert series == [(ds, answers[ds]["satellites_in_orbit"]) for ds in days]
