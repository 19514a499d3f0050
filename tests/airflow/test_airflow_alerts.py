"""A failing task posts to Slack: a real HTTP POST, to a webhook server on loopback.

The pipeline's first task (local mode) fails for real against an API that refuses connections;
dag.test() runs it through Airflow's task runner, which calls on_failure_callback as a worker does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
from airflow_helpers import load_dag


class Webhook:
    """A Slack incoming webhook stand-in: records every POST, answers `ok` like Slack."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.posts.append({"path": self.path, "json": json.loads(body)})
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Webhook]:
    hook = Webhook()
    # JSON form with the whole base URL in `host`: the hook ignores the port of a URI-form connection.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SLACK_ALERTS",
        json.dumps({"conn_type": "slackwebhook", "host": hook.url, "password": "services/T0/B0/test-only"}),
    )
    yield hook
    hook.close()


def closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_task_posts_dag_task_run_try_and_log_url(
    airflow_db, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="local")
    # The real first task fails for real: its API refuses connections.
    monkeypatch.setenv("SPACEX_API_URL", f"http://127.0.0.1:{closed_port()}/v4")
    monkeypatch.setenv("HTTP_MAX_ATTEMPTS", "1")
    # Its final failure now rather than after three backed-off retries (about 7 minutes).
    dag.get_task("launches.extract").retries = 0

    run = dag.test(
        logical_date=datetime(2024, 1, 31, tzinfo=UTC),
        mark_success_pattern=r"(?!launches\.extract$).*",  # every other task is marked done, not run
    )

    assert str(run.state) == "failed"
    texts = [post["json"]["text"] for post in webhook.posts]
    for text in texts:
        print(text, end="\n\n")
    assert {post["path"] for post in webhook.posts} == {"/services/T0/B0/test-only"}
    [task_alert] = [t for t in texts if "task failed" in t]
    assert "DAG: starlink_pipeline" in task_alert
    assert "Task: launches.extract" in task_alert
    assert f"Run: {run.run_id} (ds 2024-01-31)" in task_alert
    assert "Try: 1" in task_alert
    log_url = task_alert.split("Log: ", 1)[1].strip()
    assert log_url == (
        f"http://localhost:8080/dags/starlink_pipeline/runs/{quote(run.run_id)}/tasks/launches.extract?try_number=1"
    )
    # dag.test() cannot run DAG-level callbacks on Airflow 3.3 (it hands them a SerializedDAG,
    # which has no template env); the DAG processor runs them: see the next test.


def test_a_failed_run_posts_dag_run_and_reason(webhook: Webhook, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DAG-level callback with the context Airflow's DAG processor gives it when it has no
    task to describe (dag_processing/processor.py: _execute_dag_callbacks), e.g. a timed-out run."""
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="kubernetes")
    run_id = "scheduled__2024-01-31T00:00:00+00:00"
    for callback in dag.on_failure_callback if isinstance(dag.on_failure_callback, list) else [dag.on_failure_callback]:
        callback({"dag": dag, "run_id": run_id, "reason": "timed_out"})
    [post] = webhook.posts
    text = post["json"]["text"]
    assert "DAG run failed" in text
    assert "DAG: starlink_pipeline" in text
    assert f"Run: {run_id}" in text
    assert "Reason: timed_out" in text


def test_a_frozen_catalogue_stops_the_run_at_the_freshness_gate_and_alerts(
    airflow_db, webhook: Webhook, sample_replay, warehouse_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay whose SATCAT stopped updating: the bundled catalogue's newest record is from
    2026-11-20; a run for 2027-06-01 finds it 193 days old, past SATCAT_ERROR_AFTER_DAYS. The real
    ingest and the real gate (dbt source freshness, then the CLI) run; the run fails there, before
    dbt builds an answer on it, and Slack hears which source, as of when, and the threshold. The
    frozen SpaceX API only warns."""
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="local")
    for name, value in {
        "SPACEX_API_URL": sample_replay.spacex_url,
        "CELESTRAK_URL": sample_replay.url,
        "WAREHOUSE_URL": warehouse_url,
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "DATA_DIR": str(tmp_path / "data"),
        "SATCAT_ERROR_AFTER_DAYS": "45",
    }.items():
        monkeypatch.setenv(name, value)
    dag.get_task("freshness").retries = 0  # its final failure now, not after backed-off retries

    run = dag.test(
        logical_date=datetime(2027, 6, 1, tzinfo=UTC),
        mark_success_pattern=r"^(dbt_docs|report)$",  # never reached: they wait for the gate
    )

    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["satcat.load"] == "success" and states["freshness"] == "failed"
    assert {s for t, s in states.items() if t.startswith("dbt.")} == {"upstream_failed"}
    [alert] = [p["json"]["text"] for p in webhook.posts if "Task: freshness" in p["json"]["text"]]
    print(alert)
    why = alert.split("Why: ", 1)[1].splitlines()[0]
    assert why == (
        "freshness gate: CelesTrak SATCAT (celestrak.satcat) is too old: its newest record is from 2026-11-20, "
        "193 days before 2027-06-01 (threshold 45 days)"
    )
    assert "spacex" not in why  # stale too, but a warning only
