"""The DAG follows the pipeline's own definitions, in the cluster as on this machine.

- Its datasets are the pipeline's (src/starlink42k/datasets.py), read from the dbt manifest.
- It reads the answer where the pipeline's report writes it (lake.report_prefix).
- dbt computes the same forecast from a cluster pod as from `make run`: the dbt watcher pod's
  `--vars` and its environment (the literal variables plus the settings ConfigMap, rendered from
  the platform chart with the same settings) against the command `transform` runs, both compiled
  by real dbt; the compiled SQL must be the same, and carry the settings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from airflow_helpers import DBT_DIR, REPO, build_pod, clean_env

sys.path.insert(0, str(REPO / "tests" / "k8s"))
from k8s_helpers import AIRFLOW_NAMESPACE, CHART, NAMESPACE, extract_helm, run_helm

SETTINGS = {"TARGET_SATELLITES": "51234", "DATASETS": "launches,starlink"}
# What the forecast reads (the fits hold the target; staging of SATCAT honours DATASETS).
COMPILED = ("int_forecast_parameters__fitted", "stg_celestrak__satcat")


def test_the_dags_datasets_are_the_pipelines(local_dag) -> None:
    from starlink import config

    from starlink42k.datasets import NAMES

    assert set(config.datasets()) == set(NAMES)
    assert {t.split(".")[0] for t in local_dag.task_ids if t.endswith(".extract")} == set(NAMES)


def test_the_dag_reads_the_answer_where_report_writes_it(local_dag) -> None:
    from starlink import answers

    from starlink42k.answer import FILES
    from starlink42k.lake import report_prefix

    for ds in ("2024-01-31", "2026-12-06"):
        assert answers.answer_key(ds) == report_prefix(ds) + FILES[0]


@pytest.fixture(scope="module")
def settings_configmap(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """namespace -> the pipeline-settings ConfigMap's data, from our chart with SETTINGS."""
    tmp = tmp_path_factory.mktemp("chart")
    helm = extract_helm(tmp)
    values = tmp / "values.yaml"
    values.write_text(yaml.safe_dump({"pipelineSettings": SETTINGS}))
    out = run_helm(helm, "template", "starlink", str(CHART), "--namespace", NAMESPACE, "--values", str(values))
    return {
        o["metadata"]["namespace"]: o.get("data", {})
        for o in yaml.safe_load_all(out.stdout)
        if o and o["kind"] == "ConfigMap" and o["metadata"]["name"] == "pipeline-settings"
    }


def pod_environment(container: dict, config_maps: dict[str, dict[str, str]]) -> dict[str, str]:
    """What Kubernetes puts in the container's environment: envFrom first, then env (Secrets left out)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]])
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def compile_models(vars_json: str, env: dict[str, str], target: Path, warehouse_env: dict[str, str]) -> dict:
    """Compiled SQL of COMPILED, by the dbt of this checkout, with this environment and --vars."""
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "compile", "--select", *COMPILED, "--vars", vars_json,
         "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR), "--target-path", str(target),
         "--log-path", str(target / "logs"), "--no-use-colors", "--quiet"],
        env={**clean_env(), **env, **warehouse_env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    compiled = {p.stem: p.read_text() for p in target.rglob("compiled/**/*.sql")}
    return {name: compiled[name] for name in COMPILED}


def test_a_cluster_pod_and_make_run_compile_the_same_forecast(
    monkeypatch: pytest.MonkeyPatch, settings_configmap, warehouse_url: str, tmp_path: Path
) -> None:
    from airflow_helpers import DS, load_dag

    from starlink42k.context import Context
    from starlink42k.dbt_runner import dbt_invocation
    from starlink42k.settings import Settings

    # The cluster: the Airflow components read the settings ConfigMap of their namespace...
    dag = load_dag(monkeypatch, STARLINK_EXECUTION="kubernetes", **settings_configmap[AIRFLOW_NAMESPACE])
    assert "satcat.extract" not in dag.task_ids  # DATASETS reached the DAG
    # ...and the dbt pod the one of the pods' namespace.
    (container,) = build_pod(dag.get_task("dbt.dbt_producer_watcher"))["spec"]["containers"]
    args = container["args"]
    pod_vars = args[args.index("--vars") + 1]
    pod_env = pod_environment(container, {"pipeline-settings": settings_configmap[NAMESPACE]})

    # `make run`: the same settings in the environment of the CLI.
    ctx = Context(Settings.from_env({**os.environ, **SETTINGS, "WAREHOUSE_URL": warehouse_url}))
    command, cli_env = dbt_invocation(ctx, "build", ds=DS)
    cli_vars = command[command.index("--vars") + 1]

    assert yaml.safe_load(pod_vars) == json.loads(cli_vars) == {"ds": DS}
    for name in SETTINGS:
        assert pod_env[name] == cli_env[name], name

    warehouse = ctx.warehouse.dbt_env()
    from_pod = compile_models(pod_vars, {k: pod_env[k] for k in SETTINGS}, tmp_path / "pod", warehouse)
    from_cli = compile_models(cli_vars, {k: cli_env[k] for k in SETTINGS}, tmp_path / "cli", warehouse)
    assert from_pod == from_cli
    assert "51234 as target_satellites" in from_pod["int_forecast_parameters__fitted"]
    default = compile_models(cli_vars, {}, tmp_path / "default", warehouse)
    assert default != from_cli and "42000 as target_satellites" in default["int_forecast_parameters__fitted"]
