"""k8s/e2e.py's REST client against a real `airflow api-server` process (what `make e2e` talks to on
kind): log in with the simple auth manager's generated password, wait for the DAG, trigger and poll
the run until it ends. No scheduler runs here, so the test ends each run itself through the same
API, as the scheduler would (test_airflow_e2e_scheduler.py runs a real scheduler)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from airflow_helpers import BIN, DAGS, REPO, clean_env

from support.net import free_port, wait_for_port

# Starts real Airflow processes for the cluster's e2e client: the cluster tier.
pytestmark = pytest.mark.cluster


def e2e_module():
    if "starlink_e2e" not in sys.modules:
        spec = importlib.util.spec_from_file_location("starlink_e2e", REPO / "k8s" / "e2e.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["starlink_e2e"] = module
        spec.loader.exec_module(module)
    return sys.modules["starlink_e2e"]


@pytest.fixture(scope="module")
def api_server(airflow_db: Path, manifest: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """An API server on loopback, the DAG serialized in its database, as after git-sync and parsing."""
    home = tmp_path_factory.mktemp("api")
    passwords = home / "simple_auth_manager_passwords.json.generated"
    port = free_port()
    env = clean_env(
        PYTHONPATH=str(DAGS),
        STARLINK_EXECUTION="local",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(passwords),
        AIRFLOW__API_AUTH__JWT_SECRET="test-only-jwt-signing-key-0123456789abcdef",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(port),
    )
    subprocess.run([str(BIN / "airflow"), "dags", "reserialize"], env=env, check=True, capture_output=True, timeout=300)
    log = (home / "api-server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, timeout=180)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while requests.get(f"{base}/api/v2/monitor/health", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, (home / "api-server.log").read_text()[-3000:]
            time.sleep(0.5)
        yield {"url": base, "password": json.loads(passwords.read_text())["admin"]}
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def end_run_after(api, run_id: str, state: str, polls: int) -> threading.Thread:
    """What the scheduler would do: once the client has polled a few times, the run ends."""

    def finish() -> None:
        while api.polls < polls:
            time.sleep(0.05)
        response = api._call("PATCH", f"/dags/starlink_pipeline/dagRuns/{run_id}", json={"state": state})
        assert response.status_code == 200, response.text

    thread = threading.Thread(target=finish, daemon=True)
    thread.start()
    return thread


def client(api_server: dict):
    e2e = e2e_module()

    class CountingApi(e2e.AirflowApi):
        polls = 0

        def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
            type(self).polls += 1
            return super().task_states(dag_id, run_id)

    api = CountingApi(api_server["url"], "admin", api_server["password"])
    api.login()
    return e2e, api


def test_login_trigger_and_poll_until_success(api_server: dict) -> None:
    _, api = client(api_server)
    api.wait_for_dag("starlink_pipeline", timeout=60, poll=0.5)
    api.set_paused("starlink_pipeline", False)
    details = api._call("GET", "/dags/starlink_pipeline").json()
    assert details["is_paused"] is False
    run_id = api.trigger("starlink_pipeline", "2024-01-31")
    run = api._call("GET", f"/dags/starlink_pipeline/dagRuns/{run_id}").json()
    assert run["logical_date"].startswith("2024-01-31T00:00:00") and run["state"] in ("queued", "running")
    assert {"launches.extract", "report"} <= set(api.task_states("starlink_pipeline", run_id))
    finisher = end_run_after(api, run_id, "success", polls=api.polls + 3)
    assert api.wait_for_run("starlink_pipeline", run_id, timeout=60, poll=0.2) == "success"
    finisher.join(10)


def test_a_failed_run_is_reported_and_a_missing_dag_times_out(api_server: dict) -> None:
    e2e, api = client(api_server)
    run_id = api.trigger("starlink_pipeline", "2024-02-01")
    end_run_after(api, run_id, "failed", polls=api.polls + 2)
    with pytest.raises(e2e.E2EFailure, match=rf"run {run_id} failed; failed tasks: "):
        api.wait_for_run("starlink_pipeline", run_id, timeout=60, poll=0.2)
    with pytest.raises(e2e.E2EFailure, match=r"not parsed after 1 s: is the branch pushed"):
        api.wait_for_dag("no_such_dag", timeout=1, poll=0.2)


def test_a_wrong_password_is_refused(api_server: dict) -> None:
    e2e = e2e_module()
    with pytest.raises(e2e.E2EFailure, match=r"login to .* as admin failed: HTTP 401"):
        e2e.AirflowApi(api_server["url"], "admin", "not-the-password").login()


def test_a_second_trigger_of_the_same_ds_replaces_the_earlier_run(api_server: dict) -> None:
    """A second `make e2e` on the same cluster (or a scheduled run of that date) must not end in 409."""
    _, api = client(api_server)
    first = api.trigger("starlink_pipeline", "2024-03-01")
    time.sleep(1.1)  # run ids carry the second
    second = api.trigger("starlink_pipeline", "2024-03-01")
    assert first != second
    assert api._call("GET", f"/dags/starlink_pipeline/dagRuns/{first}").status_code == 404
    runs = api._call(
        "GET", "/dags/starlink_pipeline/dagRuns",
        params={"logical_date_gte": "2024-03-01T00:00:00Z", "logical_date_lte": "2024-03-01T00:00:00Z"},
    ).json()["dag_runs"]  # fmt: skip
    assert [run["dag_run_id"] for run in runs] == [second]
