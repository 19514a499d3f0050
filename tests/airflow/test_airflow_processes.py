"""The DAGs on a real Airflow (scheduler, DAG processor, triggerer, API server: airflow_processes.py),
for what dag.test() does differently from the cluster:

- the run-level alert, which the DAG processor posts (DAG callbacks run there, with the DAG it
  parsed), once, beside the failed task's own; a stale source fails the run at once: the real
  starlink_pipeline in local mode, the real CLI steps, the real gate, a Slack webhook on loopback
  counting posts and reading them;
- dbt's per-model tasks of the kubernetes mode: deferred by the scheduler straight to the
  triggerer (start_from_trigger) and ended there, never queued to an executor, each with its
  model's outcome. The DAG under test is the real dbt group (tasks.Steps("kubernetes")), its
  producer's pod replaced by what the pod's log stream carries: a real `dbt build --log-format
  json` of this project, fed through cosmos' own log parser, as the producer does.

Slow (real processes, real dbt): `pipeline` tier.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow_helpers import BIN, DAGS, DBT_DIR, Webhook, clean_env
from airflow_processes import AirflowProcesses

pytestmark = pytest.mark.pipeline

SAMPLE_DS = "2026-11-25"  # the bundled sample data's week
# Not named dbt_*: dbt imports every dbt_* module on its path as a plugin (the DAGs folder is on it).
REPLAY_DAG = "watcher_replay"

# The real kubernetes-mode dbt group; its producer's pod is the only thing replaced: by the JSON log
# a real `dbt build` wrote (the run's conf names it), through cosmos' own parser, as the producer
# reads the pod's log stream. Its exit: 1 if dbt reported an error, as the pod's.
REPLAY_DAG_FILE = f'''
"""Test DAG (tests/airflow/test_airflow_processes.py): the kubernetes mode's dbt group, the pod replayed."""
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException
from cosmos.operators._watcher.base import store_dbt_resource_status_from_log
from starlink import tasks

with DAG("{REPLAY_DAG}", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC)) as dag:
    tasks.Steps("kubernetes").dbt_build()

producer = dag.get_task("dbt.dbt_producer_watcher")


def replay(context, **_):
    lines = Path(context["dag_run"].conf["dbt_log"]).read_text().splitlines()
    tests, skipped = {{}}, set()  # what the producer accumulates over its pod's log
    for line in lines:
        store_dbt_resource_status_from_log(
            line, {{"context": context}}, tests_per_model=producer._tests_per_model, test_results_per_model=tests,
            upstream_failure_skipped_ids=skipped,
        )
    if context["dag_run"].conf["failed"]:
        raise AirflowException("dbt build failed (exit 1)")


producer.execute = replay
'''


def dbt_build_log(warehouse_env: dict[str, str], target: Path) -> tuple[Path, dict]:
    """`dbt build` of the project for SAMPLE_DS with JSON logs, as the producer pod runs it."""
    target.mkdir(parents=True)
    log = target / "dbt.jsonl"
    with log.open("w") as out:
        subprocess.run(
            [str(BIN / "dbt"), "build", "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
             "--vars", json.dumps({"ds": SAMPLE_DS}), "--log-format", "json", "--target-path", str(target),
             "--log-path", str(target / "logs")],
            env={**clean_env(), **warehouse_env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
            stdout=out, timeout=900,
        )  # fmt: skip
    return log, json.loads((target / "run_results.json").read_text())


def expected_states(manifest: dict, run_results: dict) -> dict[str, str]:
    """Each model task's state after a run that replays `run_results`: failed if the model or one of
    its tests did not pass, upstream_failed under a failed one (its task never starts), else success."""
    status = {r["unique_id"]: r["status"] for r in run_results["results"]}
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    tests: dict[str, list[str]] = {}
    for uid, node in manifest["nodes"].items():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                tests.setdefault(parent, []).append(uid)
    states: dict[str, str] = {}

    def state(uid: str) -> str:
        if uid not in states:
            parents = [p for p in models[uid]["depends_on"]["nodes"] if p in models]
            if any(state(p) != "success" for p in parents):
                states[uid] = "upstream_failed"
            elif status[uid] == "success" and all(status.get(t) in ("pass", "warn") for t in tests.get(uid, [])):
                states[uid] = "success"
            else:
                states[uid] = "failed"
        return states[uid]

    return {f"dbt.{models[uid]['name']}_model_build": state(uid) for uid in models}


@pytest.fixture(scope="module")
def pg_database(pg_server: str) -> Iterator[Any]:
    """New databases on the session's PostgreSQL, dropped at the end."""
    names = []

    def create() -> str:
        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        names.append(name)
        return pg_server.replace("/postgres?", f"/{name}?")

    yield create
    with psycopg.connect(pg_server, autocommit=True) as conn:
        for name in names:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="module")
def dbt_logs(pg_database, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict]]:
    """Two real `dbt build` JSON logs of the sample data: all built; and with raw.satcat gone, so that
    one model fails and what reads it is skipped, while the SpaceX side still builds."""
    from starlink42k.replay import ReplayServer

    tmp = tmp_path_factory.mktemp("dbt-logs")
    warehouse = pg_database()
    with ReplayServer.from_directory() as api:
        env = {
            **clean_env(), "SPACEX_API_URL": api.spacex_url, "CELESTRAK_URL": api.url, "WAREHOUSE_URL": warehouse,
            "LAKE_URL": (tmp / "lake").as_uri(), "DATA_DIR": str(tmp / "data"),
        }  # fmt: skip
        for dataset in ("launches", "starlink", "satcat"):
            for step in ("extract", "to-csv", "load"):
                subprocess.run([str(BIN / "starlink42k"), "-q", step, dataset, "--ds", SAMPLE_DS], env=env, check=True)
    cli = [str(BIN / "starlink42k"), "-q", "warehouse", "dbt-env"]
    dbt_env = json.loads(subprocess.run(cli, env=env, check=True, capture_output=True, text=True).stdout)
    logs = {"built": dbt_build_log(dbt_env, tmp / "built")}
    with psycopg.connect(warehouse, autocommit=True) as conn:
        conn.execute("alter table raw.satcat rename to satcat_gone")
    logs["satcat_gone"] = dbt_build_log(dbt_env, tmp / "satcat_gone")
    return logs


@pytest.fixture(scope="module")
def airflow(
    pg_database, request: pytest.FixtureRequest, manifest: dict
) -> Iterator[tuple[AirflowProcesses, Webhook, dict[str, str]]]:
    """A real Airflow with this repository's DAGs (local mode) and the replay DAG, the bundled sample
    data on loopback, a warehouse and a lake of its own, and a Slack webhook counting posts. Its home
    is kept after a failure (its path is printed), not in pytest's temporary folders, which other
    sessions on the machine rotate."""
    from starlink42k.replay import ReplayServer

    tmp = Path(tempfile.mkdtemp(prefix="starlink42k-airflow-"))
    failed_before = request.session.testsfailed
    dags = tmp / "dags"
    dags.mkdir()
    for name in ("starlink_pipeline.py", "starlink", ".airflowignore"):
        (dags / name).symlink_to(DAGS / name)
    (dags / f"{REPLAY_DAG}.py").write_text(textwrap.dedent(REPLAY_DAG_FILE))
    webhook = Webhook()
    with ReplayServer.from_directory() as api:
        pipeline_env = {
            "STARLINK_EXECUTION": "local",
            "STARLINK_IMAGE_TAG": "test",  # for the replay DAG's kubernetes-mode group
            "SPACEX_API_URL": api.spacex_url,
            "CELESTRAK_URL": api.url,
            "WAREHOUSE_URL": pg_database(),
            "LAKE_URL": (tmp / "lake").as_uri(),
            "DATA_DIR": str(tmp / "data"),
            "SATCAT_ERROR_AFTER_DAYS": "5",
            "AIRFLOW_CONN_SLACK_ALERTS": webhook.connection(),
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__COSMOS__CACHE_DIR": str(tmp / "cosmos"),
        }
        processes = AirflowProcesses(tmp / "home", dags, pg_database(), pipeline_env)
        try:
            processes.start()
            processes.wait_for_dag("starlink_pipeline")
            processes.wait_for_dag(REPLAY_DAG)
            yield processes, webhook, pipeline_env
        finally:
            processes.stop()
            webhook.close()
            if request.session.testsfailed == failed_before:
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                print(f"Airflow's home, logs and lake kept in {tmp}")


def wait_for_posts(webhook: Webhook, count: int, timeout: float = 120) -> list[str]:
    """The posts, once `count` arrived (the run's alert comes from the DAG processor, after the run
    ended), and a little longer, so that one more would be seen."""
    deadline = time.monotonic() + timeout
    while len(webhook.posts) < count and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(10)
    return webhook.texts


def test_a_stale_catalogue_fails_the_run_at_once_with_one_alert_and_the_runs(airflow) -> None:
    """SATCAT's newest record is from 2026-11-20; for 2026-12-01 it is 11 days old, past the 5 days
    allowed here (the scheduler runs no logical date in the future): the gate fails on its first try,
    though it has retries, and nothing of dbt runs; Slack gets exactly two posts: the gate's, naming
    the source, its as-of date and the threshold; and the run's, from the DAG processor."""
    processes, webhook, _ = airflow
    run_id = processes.trigger("starlink_pipeline", datetime(2026, 12, 1, tzinfo=UTC))
    started = time.monotonic()
    assert processes.wait_for_run("starlink_pipeline", run_id) == "failed"
    print(f"run failed after {time.monotonic() - started:.0f} s")
    tis = processes.task_instances("starlink_pipeline", run_id)
    assert {t: ti["state"] for t, ti in tis.items() if t.endswith(".load")} == dict.fromkeys(
        ("launches.load", "satcat.load", "starlink.load"), "success"
    )
    assert (tis["freshness"]["state"], tis["freshness"]["try_number"]) == ("failed", 1)
    assert {ti["state"] for t, ti in tis.items() if t.startswith("dbt.") or t in ("report", "dbt_docs")} == {
        "upstream_failed"
    }

    texts = wait_for_posts(webhook, 2)
    print(*texts, sep="\n\n")
    [gate] = [t for t in texts if "Task: freshness" in t]
    assert gate.splitlines()[:5] == [
        ":red_circle: starlink42k task failed",
        "DAG: starlink_pipeline",
        "Task: freshness",
        f"Run: {run_id} (ds 2026-12-01)",
        "Try: 1",
    ]
    assert gate.splitlines()[5] == (
        "Why: freshness gate: CelesTrak SATCAT (celestrak.satcat) is too old: its newest record is from "
        "2026-11-20, 11 days before 2026-12-01 (threshold 5 days)"
    )
    [run] = [t for t in texts if "DAG run failed" in t]
    assert run.splitlines() == [
        ":red_circle: starlink42k DAG run failed",
        "DAG: starlink_pipeline",
        f"Run: {run_id}",
        "Reason: task_failure",
    ]
    assert len(texts) == 2


@pytest.mark.parametrize("log", ["built", "satcat_gone"])
def test_dbt_model_tasks_start_and_end_in_the_triggerer(airflow, dbt_logs, manifest: dict, log: str) -> None:
    """Every model's task gets its model's outcome from the producer's log, and none of them was ever
    queued to an executor (on the cluster: no worker pod): the scheduler deferred them to the
    triggerer, which ended them."""
    processes, _, _ = airflow
    log_path, run_results = dbt_logs[log]
    expected = expected_states(manifest, run_results)
    failed = any(r["status"] == "error" for r in run_results["results"])
    day = 1 if log == "built" else 2
    conf = {"dbt_log": str(log_path), "failed": failed}
    run_id = processes.trigger(REPLAY_DAG, datetime(2024, 1, day, tzinfo=UTC), conf)
    started = time.monotonic()
    assert processes.wait_for_run(REPLAY_DAG, run_id) == ("failed" if failed else "success")
    tis = processes.task_instances(REPLAY_DAG, run_id)
    builds = {t: ti for t, ti in tis.items() if t.endswith("_model_build")}
    ended = max(ti["end_date"] for ti in builds.values() if ti["end_date"])
    first = min(ti["start_date"] for ti in builds.values() if ti["start_date"])
    producer = tis["dbt.dbt_producer_watcher"]
    print(f"{log}: {len(builds)} model tasks, first started to last ended {(ended - first).total_seconds():.0f} s "
          f"(run {time.monotonic() - started:.0f} s); the producer's log through cosmos' parser and XComs "
          f"{(producer['end_date'] - producer['start_date']).total_seconds():.1f} s")  # fmt: skip
    assert {t: ti["state"] for t, ti in builds.items()} == expected
    if log == "satcat_gone":
        assert {"failed", "upstream_failed", "success"} <= set(expected.values())
        # a failed model's task says why, in dbt's words
        why = processes.task_log(REPLAY_DAG, run_id, "dbt.stg_celestrak__satcat_model_build")
        assert 'relation \\"raw.satcat\\" does not exist' in why or 'relation "raw.satcat" does not exist' in why, why
    for task_id, ti in builds.items():
        if ti["state"] != "upstream_failed":
            assert ti["try_number"] == 1, task_id
            assert ti["queued_dttm"] is None and not ti["hostname"], f"{task_id} went to an executor: {ti}"
            # each from its own model's (and tests') outcome, not from the producer's end
            log = processes.task_log(REPLAY_DAG, run_id, task_id)
            assert "reported nothing more" not in log and "failed before it reported" not in log, log
    assert tis["dbt.dbt_producer_watcher"]["queued_dttm"] is not None  # the one that does run on one


def test_a_failed_model_is_retried_on_its_own_on_a_worker(airflow, dbt_logs) -> None:
    """Cleared in the UI (or retried) after the producer's build is over, a model's task resumes on a
    worker, where cosmos builds that model alone in a dbt pod (here no cluster answers, so that pod
    fails; its spec is test_airflow_pods.py's)."""
    processes, _, _ = airflow
    run_id = f"test__{datetime(2024, 1, 2, tzinfo=UTC).isoformat()}"  # the satcat_gone run above
    task_id = "dbt.stg_celestrak__satcat_model_build"
    assert processes.task_instances(REPLAY_DAG, run_id)[task_id]["state"] == "failed"
    # that run's only (Airflow 3.3 does not match `^` or `$` against a grouped task's id)
    day = "2024-01-02"
    processes.airflow(
        "tasks", "clear", REPLAY_DAG, "-t", "stg_celestrak__satcat_model_build", "-s", day, "-e", day, "-y"
    )
    deadline = time.monotonic() + 300
    while True:
        ti = processes.task_instances(REPLAY_DAG, run_id)[task_id]
        if ti["try_number"] >= 2 and ti["state"] in ("failed", "success"):
            break
        assert time.monotonic() < deadline, f"{task_id} still {ti}\n{processes.logs()}"
        time.sleep(1)
    assert ti["try_number"] == 2 and ti["queued_dttm"] is not None  # on a worker this time
    log = processes.task_log(REPLAY_DAG, run_id, task_id)
    assert "the producer's build is over; dbt builds the model again, alone" in log
    assert "Retry attempt #1" in log and "Running model 'model.starlink42k.stg_celestrak__satcat'" in log
