"""k8s/e2e.py against a real `airflow scheduler` and `airflow api-server` (Airflow 3.3.2, the pinned
version): the e2e run must be the only run of starlink_pipeline (issue 16, defect 3).

starlink_pipeline is @daily with catchup=False and max_active_runs=1, and paused at creation. A
scheduler that sees it unpaused creates the run of its latest slot at once; `make e2e` used to
unpause first and trigger after, so its run waited behind that scheduled one (12 min on a real
cluster) and a second answer was written. `make e2e` now installs Airflow with its
E2E_AIRFLOW_SET (k8s/cluster.mk): those --set flags become the scheduler's configuration here.
The scheduler runs for real on its own metadata database (LocalExecutor; the default pool has no
slot, so no task executes: only the scheduler's run decisions are observed), and the test watches
several of its loops after the e2e client is done.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from airflow_helpers import BIN, DAGS, REPO, clean_env
from test_airflow_e2e_client import e2e_module

from support.net import free_port, wait_for_port

pytestmark = pytest.mark.cluster

DAG_ID = "starlink_pipeline"
DS = "2024-01-31"


def e2e_airflow_config() -> dict[str, str]:
    """`make e2e`'s extra Airflow chart flags (config.<section>.<key>=<value>) as the environment
    variables the chart turns them into for every component."""
    flags = subprocess.run(
        ["make", "-s", "-C", str(REPO), "--eval", "print-%: ; @echo '$($*)'", "print-E2E_AIRFLOW_SET"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    settings = re.findall(r"--set(?:-string)? config\.(\w+)\.(\w+)=(\S+)", flags)
    assert settings, f"E2E_AIRFLOW_SET sets no Airflow config: {flags!r}"
    return {f"AIRFLOW__{section.upper()}__{key.upper()}": value for section, key, value in settings}


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated metadata database, copied for each test."""
    home = tmp_path_factory.mktemp("airflow-db")
    env = clean_env(AIRFLOW_HOME=str(home), AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db")
    subprocess.run([str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    return home / "airflow.db"


@pytest.fixture
def airflow(request: pytest.FixtureRequest, template_db: Path, manifest: dict, tmp_path: Path) -> Iterator[dict]:
    """A scheduler and an API server on a fresh copy of the database, the DAG serialized (paused),
    configured as `make e2e` installs Airflow (or, with the param "chart defaults", without it)."""
    extra = {} if getattr(request, "param", "e2e") == "chart defaults" else e2e_airflow_config()
    shutil.copy(template_db, tmp_path / "airflow.db")
    port = free_port()
    passwords = tmp_path / "passwords.json"
    env = clean_env(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{tmp_path}/airflow.db",
        PYTHONPATH=str(DAGS),
        STARLINK_EXECUTION="local",
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM="1",
        AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC="1",
        AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-jwt-signing-key-0123456789abcdef",
        AIRFLOW__API__BASE_URL=f"http://127.0.0.1:{port}",
        **extra,
    )
    airflow = str(BIN / "airflow")
    for command in (["dags", "reserialize"], ["pools", "set", "default_pool", "0", "no task runs in this test"]):
        subprocess.run([airflow, *command], env=env, check=True, capture_output=True, timeout=300)
    logs = {name: (tmp_path / f"{name}.log").open("w") for name in ("api-server", "scheduler")}
    procs = [
        subprocess.Popen([airflow, "api-server", "--host", "127.0.0.1", "--port", str(port)], env=env,
                         stdout=logs["api-server"], stderr=subprocess.STDOUT),
        subprocess.Popen([airflow, "scheduler"], env=env, stdout=logs["scheduler"], stderr=subprocess.STDOUT),
    ]  # fmt: skip
    try:
        wait_for_port(port, timeout=180)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while scheduler_heartbeat(base) is None:
            assert time.monotonic() < deadline, (tmp_path / "scheduler.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"url": base, "password": json.loads(passwords.read_text())["admin"], "logs": tmp_path}
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(60)
        for log in logs.values():
            log.close()


def scheduler_heartbeat(base: str) -> str | None:
    with_errors = requests.get(f"{base}/api/v2/monitor/health", timeout=10)
    if with_errors.status_code != 200:
        return None
    scheduler = with_errors.json().get("scheduler", {})
    return scheduler.get("latest_scheduler_heartbeat") if scheduler.get("status") == "healthy" else None


def client(airflow: dict):
    e2e = e2e_module()
    api = e2e.AirflowApi(airflow["url"], "admin", airflow["password"])
    api.login()
    api.wait_for_dag(DAG_ID, timeout=120, poll=0.5)
    return api


def runs(api) -> dict[str, dict]:
    return {r["dag_run_id"]: r for r in api._call("GET", f"/dags/{DAG_ID}/dagRuns").json()["dag_runs"]}


def watch_scheduler_loops(airflow: dict, loops: int, timeout: float = 120) -> None:
    """Until the scheduler's heartbeat has moved `loops` times: it has looked at the DAG since."""
    seen, deadline = {scheduler_heartbeat(airflow["url"])}, time.monotonic() + timeout
    while len(seen) <= loops:
        assert time.monotonic() < deadline, (airflow["logs"] / "scheduler.log").read_text()[-3000:]
        time.sleep(0.5)
        seen.add(scheduler_heartbeat(airflow["url"]))


def test_the_e2e_run_is_the_only_run_and_the_scheduler_starts_it(airflow: dict) -> None:
    api = client(airflow)
    since = datetime.now(UTC).isoformat()
    run_id = api.start_only_run(DAG_ID, DS)
    assert api._call("GET", f"/dags/{DAG_ID}").json()["is_paused"] is False
    deadline = time.monotonic() + 120
    while runs(api)[run_id]["state"] != "running":  # unpaused: the scheduler takes it up
        assert time.monotonic() < deadline, runs(api)
        time.sleep(0.5)
    watch_scheduler_loops(airflow, loops=5)
    assert list(runs(api)) == [run_id], "the scheduler created a run besides the e2e run"
    assert api.other_runs(DAG_ID, run_id, since) == []


def test_a_second_e2e_replaces_the_first_run(airflow: dict) -> None:
    """A second `make e2e` on the same cluster: the earlier run of DS (here still running) is ended
    and replaced; it stays the only run."""
    api = client(airflow)
    first = api.start_only_run(DAG_ID, DS)
    watch_scheduler_loops(airflow, loops=2)
    time.sleep(1.1)  # run ids carry the second
    second = api.start_only_run(DAG_ID, DS)
    assert second != first
    watch_scheduler_loops(airflow, loops=5)
    assert list(runs(api)) == [second]


@pytest.mark.parametrize("airflow", ["chart defaults"], indirect=True)
def test_without_the_e2e_setting_the_scheduler_starts_a_run_of_its_own(airflow: dict) -> None:
    """Why `make e2e` sets it: with the chart's defaults, unpausing makes the scheduler create its
    latest slot's run at once, and the e2e run (triggered first or not) waits behind it."""
    api = client(airflow)
    run_id = api.start_only_run(DAG_ID, DS)
    deadline = time.monotonic() + 120
    while len(runs(api)) < 2:
        assert time.monotonic() < deadline, f"the scheduler created no run: {runs(api)}"
        time.sleep(0.5)
    (scheduled,) = [r for r in runs(api).values() if r["dag_run_id"] != run_id]
    assert scheduled["run_type"] == "scheduled"
