"""Fixtures of the DAG tests; the environment and helpers live in airflow_helpers (imported first).

The dbt manifest the DAG renders from is (re)built by `dbt parse` when the dbt project changed;
the Airflow metadata database is created once per session (`airflow db migrate`, ~5 s).
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import airflow_helpers as h  # sets the Airflow environment before anything imports airflow
import pytest


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(h.AIRFLOW_HOME, ignore_errors=True)
    # Airflow's logging setup holds pytest's capture streams; atexit hooks (pgserver's) that log
    # after pytest closed them would print "--- Logging error ---" tracebacks.
    logging.raiseExceptions = False


# --- the dbt manifest -----------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def manifest() -> dict[str, Any]:
    """dbt/target/manifest.json, as `make manifest` builds it (dbt parse, no database). Every DAG
    test needs it (the DAG renders dbt from it), so it is built first, also in a fresh clone."""
    if h.dbt_sources_newer_than(h.MANIFEST):
        subprocess.run(
            [str(h.BIN / "dbt"), "parse", "--project-dir", str(h.DBT_DIR), "--profiles-dir", str(h.DBT_DIR),
             "--target-path", "target", "--log-path", str(h.DBT_DIR / "logs"), "--quiet"],
            env={**h.clean_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            check=True,
            timeout=300,
        )  # fmt: skip
    return json.loads(h.MANIFEST.read_text())


# --- Airflow --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The metadata database of the test AIRFLOW_HOME (what `dags test` and `dag.test()` need)."""
    subprocess.run(
        [str(h.BIN / "airflow"), "db", "migrate"], env=h.clean_env(), check=True, capture_output=True, timeout=300
    )
    return h.AIRFLOW_HOME


@pytest.fixture
def k8s_dag(monkeypatch: pytest.MonkeyPatch, manifest: dict) -> Any:
    return h.load_dag(monkeypatch, STARLINK_EXECUTION="kubernetes")


@pytest.fixture
def local_dag(monkeypatch: pytest.MonkeyPatch, manifest: dict) -> Any:
    return h.load_dag(monkeypatch, STARLINK_EXECUTION="local")


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[h.Webhook]:
    """A Slack webhook on loopback, as this process's connection `slack_alerts`."""
    hook = h.Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_ALERTS", hook.connection())
    yield hook
    hook.close()


@pytest.fixture
def sample_replay() -> Iterator[Any]:
    """The bundled sample data (SpaceX API and CelesTrak), served on loopback."""
    from starlink42k.replay import ReplayServer

    with ReplayServer.from_directory() as server:
        yield server
