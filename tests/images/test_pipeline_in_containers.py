"""The pipeline's steps as Kubernetes runs them: each a container of the pipeline image with the
pod's environment and restrictions, against real services on loopback (--network host): the API
replay of the bundled sample data, moto's S3 server as the lake, PostgreSQL over TCP. Then dbt in
its image, with the command as cosmos builds it, against the loaded warehouse."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass

import pytest
from images_helpers import (
    AIRFLOW,
    DBT,
    IMAGE_TESTS,
    NOT_REQUESTED,
    PIPELINE,
    PIPELINE_UID,
    Bucket,
    Docker,
    TcpPostgres,
    output,
)

from starlink42k.replay import ReplayServer

if not IMAGE_TESTS:
    pytest.skip(NOT_REQUESTED, allow_module_level=True)

DS = "2024-01-31"
DATASETS = ("launches", "starlink")
STEPS = [(step, dataset) for step in ("extract", "to-csv", "load") for dataset in DATASETS]


@dataclass
class PipelineRun:
    env: dict[str, str]
    steps: dict[tuple[str, str], subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def pipeline(images: Docker, sample_api: ReplayServer, lake_bucket: Bucket, tcp_postgres: TcpPostgres) -> PipelineRun:
    """extract, to-csv and load of both datasets for one ds, one container per step, in order."""
    env = {
        "WAREHOUSE_URL": tcp_postgres.url,
        "LAKE_URL": f"s3://{lake_bucket.name}",
        "S3_ENDPOINT_URL": lake_bucket.endpoint,
        **lake_bucket.credentials,
        "SPACEX_API_URL": sample_api.spacex_url,
        "CELESTRAK_URL": sample_api.url,
        "LOG_FORMAT": "json",
        "DATASETS": ",".join(DATASETS),
        "HTTP_BACKOFF_SECONDS": "0.1",
    }
    steps = {}
    for step, dataset in STEPS:
        proc = images.run(
            PIPELINE, step, dataset, "--ds", DS, env=env, user=PIPELINE_UID, network_host=True, timeout=300
        )
        steps[(step, dataset)] = proc
        if proc.returncode != 0:
            break  # the next steps would only fail for the same reason
    return PipelineRun(env, steps)


@pytest.mark.parametrize(("step", "dataset"), STEPS, ids=[f"{s}-{d}" for s, d in STEPS])
def test_step_succeeds(pipeline: PipelineRun, step: str, dataset: str) -> None:
    proc = pipeline.steps.get((step, dataset))
    assert proc is not None, "an earlier step failed"
    assert proc.returncode == 0, output(proc)


def test_every_log_line_is_json(pipeline: PipelineRun) -> None:
    for (step, dataset), proc in pipeline.steps.items():
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert lines, f"{step} {dataset} logged nothing"
        for line in lines:
            record = json.loads(line)  # LOG_FORMAT=json: every line parses, nothing else on stderr
            assert {"ts", "level", "event", "msg"} <= record.keys(), line


def test_lake_has_raw_and_curated_objects(pipeline: PipelineRun, lake_bucket: Bucket) -> None:
    keys = set(lake_bucket.keys())
    for dataset in DATASETS:
        for key in (
            f"raw/spacex/{dataset}/ds={DS}/{dataset}.json",
            f"raw/spacex/{dataset}/ds={DS}/_manifest.json",
            f"curated/spacex/{dataset}/ds={DS}/{dataset}.csv",
            f"curated/spacex/{dataset}/ds={DS}/_manifest.json",
        ):
            assert key in keys, f"{key} missing from the lake; it has {sorted(keys)}"


def test_warehouse_has_the_rows(pipeline: PipelineRun, tcp_postgres: TcpPostgres) -> None:
    with tcp_postgres.admin() as conn:
        for dataset in DATASETS:
            (rows,) = conn.execute(f"select count(*) from raw.{dataset} where ds = %s", (DS,)).fetchone()
            assert rows > 0, f"raw.{dataset} has no rows for {DS}"
            (logged,) = conn.execute(
                "select rows from raw.load_log where dataset = %s and ds = %s", (dataset, DS)
            ).fetchone()
            assert logged == rows


@pytest.fixture(scope="module")
def dbt_build(pipeline: PipelineRun, images: Docker, tcp_postgres: TcpPostgres) -> subprocess.CompletedProcess[str]:
    for (step, dataset), proc in pipeline.steps.items():
        if proc.returncode != 0:
            pytest.fail(f"no dbt build: {step} {dataset} failed")
    return images.run(
        DBT,
        "dbt",
        "build",
        "--vars",
        json.dumps({"ds": DS}),
        "--project-dir",
        "/opt/dbt",
        env=tcp_postgres.dbt_env,
        user=PIPELINE_UID,
        network_host=True,
    )


def test_dbt_build_answers_the_question(dbt_build: subprocess.CompletedProcess[str], tcp_postgres: TcpPostgres) -> None:
    assert dbt_build.returncode == 0, output(dbt_build)
    assert "\x1b[" not in dbt_build.stdout, "no ANSI colours in pod logs (DBT_USE_COLORS=false)"
    with tcp_postgres.admin() as conn:
        (scenarios,) = conn.execute("select count(*) from marts.fct_starlink_forecast").fetchone()
    assert scenarios == 2


# --- the dbt command as cosmos builds it, from the Airflow image, run in the dbt image ------------

RENDER = """
import json, os
from datetime import datetime
from airflow.sdk import DAG
from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, LoadMode

with DAG("images_contract", schedule=None, start_date=datetime(2024, 1, 1)) as dag:
    for group_id, mode in (("dbt", ExecutionMode.KUBERNETES), ("watcher", ExecutionMode.WATCHER_KUBERNETES)):
        DbtTaskGroup(
            group_id=group_id,
            project_config=ProjectConfig(
                manifest_path=os.environ["STARLINK_DBT_MANIFEST"], project_name="starlink42k"
            ),
            render_config=RenderConfig(load_method=LoadMode.DBT_MANIFEST),
            execution_config=ExecutionConfig(
                execution_mode=mode, dbt_project_path="/opt/dbt"
            ),
            operator_args={"image": "__IMAGE__", "vars": {"ds": "__DS__"}},
        )
commands = {}
for task in dag.tasks:
    if hasattr(task, "build_kube_args"):
        task.build_kube_args(context={}, cmd_flags=task.add_cmd_flags())
        commands[task.task_id] = {"cmds": list(task.cmds or []), "arguments": task.arguments}
print("COSMOS-COMMANDS " + json.dumps(commands))
"""


@pytest.fixture(scope="module")
def cosmos_commands(images: Docker) -> dict[str, dict[str, list[str]]]:
    """What cosmos puts in each dbt pod (Kubernetes and watcher-Kubernetes execution modes),
    rendered in the Airflow image from $STARLINK_DBT_MANIFEST the way the DAG does."""
    script = RENDER.replace("__IMAGE__", DBT).replace("__DS__", DS)
    proc = images.run(AIRFLOW, "python", "-c", script, env={"CONNECTION_CHECK_MAX_COUNT": "0"})
    assert proc.returncode == 0, output(proc)
    (line,) = [line for line in proc.stdout.splitlines() if line.startswith("COSMOS-COMMANDS ")]
    return json.loads(line.split(" ", 1)[1])


def test_cosmos_command_runs_in_the_dbt_image(
    cosmos_commands: dict[str, dict[str, list[str]]], dbt_build: subprocess.CompletedProcess[str],
    images: Docker, tcp_postgres: TcpPostgres,
) -> None:  # fmt: skip
    run = cosmos_commands["dbt.stg_spacex__launches.run"]
    # No cmds: the image's (absent) ENTRYPOINT applies and the arguments are the whole command.
    assert run["cmds"] == []
    assert run["arguments"][:2] == ["dbt", "run"]
    assert run["arguments"][-2:] == ["--project-dir", "/opt/dbt"]
    assert "--profiles-dir" not in run["arguments"], "profiles come from DBT_PROFILES_DIR in the image"
    proc = images.run(DBT, *run["arguments"], env=tcp_postgres.dbt_env, user=PIPELINE_UID, network_host=True)
    assert proc.returncode == 0, output(proc)
    assert "Completed successfully" in proc.stdout


def test_cosmos_watcher_build_runs_in_the_dbt_image(
    cosmos_commands: dict[str, dict[str, list[str]]], dbt_build: subprocess.CompletedProcess[str],
    images: Docker, tcp_postgres: TcpPostgres,
) -> None:  # fmt: skip
    """The watcher mode's one pod: `dbt build ... --log-format json`, whose lines cosmos parses."""
    producer = cosmos_commands["watcher.dbt_producer_watcher"]
    assert producer["cmds"] == []
    assert producer["arguments"][:2] == ["dbt", "build"]
    assert producer["arguments"][-2:] == ["--project-dir", "/opt/dbt"]
    proc = images.run(DBT, *producer["arguments"], env=tcp_postgres.dbt_env, user=PIPELINE_UID, network_host=True)
    assert proc.returncode == 0, output(proc)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    # What cosmos' watcher callback reads from each line: the node's id and status.
    statuses = {
        e["data"]["node_info"].get("unique_id"): e["data"]["node_info"].get("node_status")
        for e in events
        if e.get("data", {}).get("node_info")
    }
    assert statuses.get("model.starlink42k.fct_starlink_forecast") == "success", statuses
