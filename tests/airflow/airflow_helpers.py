"""Shared by the DAG tests (a module of its own: `conftest` is ambiguous across test folders).

Airflow reads its configuration when it is first imported, so importing this module sets the
test environment: a throwaway AIRFLOW_HOME (SQLite metadata database, created once per session by
the `airflow_db` fixture), the DAGs and plugins folders of this repository, no examples, no cosmos
telemetry. conftest.py imports it before anything imports airflow.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow" / "dags"
PLUGINS = REPO / "airflow" / "plugins"
DAG_FILE = DAGS / "starlink_pipeline.py"
DBT_DIR = REPO / "dbt"
MANIFEST = DBT_DIR / "target" / "manifest.json"
BIN = Path(sys.executable).parent

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="airflow-tests-"))
AIRFLOW_ENV = {
    "AIRFLOW_HOME": str(AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "AIRFLOW__COSMOS__CACHE_DIR": str(AIRFLOW_HOME / "cosmos"),
}
os.environ.update(AIRFLOW_ENV)
# The DAG processor puts the DAGs folder on sys.path; so do we, for `import starlink`.
if str(DAGS) not in sys.path:
    sys.path.insert(0, str(DAGS))

# What the DAG reads (starlink/config.py); DATASETS is the pipeline's own setting.
STARLINK_VARS = ("STARLINK_EXECUTION", "DATASETS", "STARLINK_NAMESPACE", "STARLINK_IMAGE_TAG", "STARLINK_DBT_MANIFEST")
# The images' tag as the Airflow image would carry it (images/tag.sh makes real ones).
IMAGE_TAG = "0123abcd4567"
LOGICAL_DATE = datetime(2024, 1, 31, tzinfo=UTC)
DS = "2024-01-31"


def clean_env(**extra: str) -> dict[str, str]:
    """A subprocess environment with nothing of the developer's: PATH, the test AIRFLOW_* settings."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")}
    return {**env, **AIRFLOW_ENV, "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING", **extra}


def dbt_sources_newer_than(path: Path) -> bool:
    if not path.exists():
        return True
    built = path.stat().st_mtime
    skip = {DBT_DIR / "target", DBT_DIR / "logs", DBT_DIR / "dbt_packages"}
    for file in DBT_DIR.rglob("*"):
        if file.is_file() and not any(p in file.parents for p in skip) and file.stat().st_mtime > built:
            return True
    return False


def load_dag(monkeypatch: pytest.MonkeyPatch, **env: str) -> Any:
    """The pipeline DAG as the DAG processor parses it, with exactly these of its variables (and, in
    kubernetes mode, the image tag the Airflow image sets, unless given)."""
    from airflow.dag_processing.dagbag import DagBag

    for name in STARLINK_VARS:
        monkeypatch.delenv(name, raising=False)
    if env.get("STARLINK_EXECUTION") == "kubernetes":
        env = {"STARLINK_IMAGE_TAG": IMAGE_TAG, **env}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}, bag.import_errors
    return bag.dags["starlink_pipeline"]


def template_context(task: Any, logical_date: datetime = LOGICAL_DATE, try_number: int = 1) -> Any:
    """The context the task runner gives a scheduled run of `task` (built like `airflow tasks render`,
    without a database)."""
    from airflow.sdk.api.datamodels._generated import DagRun, TIRunContext
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    run_id = f"scheduled__{logical_date.isoformat()}"
    dag_run = DagRun(
        dag_id=task.dag_id,
        run_id=run_id,
        logical_date=logical_date,
        data_interval_start=logical_date,
        data_interval_end=logical_date + timedelta(days=1),
        run_after=logical_date + timedelta(days=1),
        start_date=logical_date + timedelta(days=1),
        end_date=None,
        run_type=DagRunType.SCHEDULED,
        state=DagRunState.RUNNING,
        consumed_asset_events=[],
        partition_key=None,
    )
    ti = RuntimeTaskInstance.model_construct(
        id=uuid.uuid4(),
        task_id=task.task_id,
        dag_id=task.dag_id,
        run_id=run_id,
        try_number=try_number,
        map_index=-1,
        dag_version_id=uuid.uuid4(),
        task=task,
        max_tries=task.retries,
        _ti_context_from_server=TIRunContext(
            dag_run=dag_run, max_tries=task.retries, variables=[], connections=[], xcom_keys_to_clear=[]
        ),
    )
    return ti.get_template_context()


def build_pod(task: Any) -> dict:
    """The pod `task` would submit for a scheduled run of 2024-01-31, as the API server receives it."""
    from kubernetes.client import ApiClient

    context = template_context(task)
    task.render_template_fields(context)
    if hasattr(task, "build_kube_args"):
        task.build_kube_args(context)
    pod = task.build_pod_request_obj(context, dry_run=True)
    return ApiClient().sanitize_for_serialization(pod)


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

    def connection(self) -> str:
        """AIRFLOW_CONN_SLACK_ALERTS for it: the JSON form with the whole base URL in `host` (the hook
        ignores the port of a URI-form connection)."""
        return json.dumps({"conn_type": "slackwebhook", "host": self.url, "password": "services/T0/B0/test-only"})

    @property
    def texts(self) -> list[str]:
        return [post["json"]["text"] for post in self.posts]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
