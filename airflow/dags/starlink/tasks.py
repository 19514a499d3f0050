"""The pipeline's steps as Airflow tasks, in either execution mode (config.execution()):

kubernetes  every CLI step is a pod from the pipeline image; dbt runs in the dbt image through
            cosmos' ExecutionMode.WATCHER_KUBERNETES (one `dbt build` pod; a sensor per model and
            per model's tests); dbt docs and dbt source freshness run in a pod's init container
            from the dbt image, then the CLI stores what they wrote;
local       every CLI step is a process of the `starlink42k` CLI of this checkout's virtualenv;
            dbt runs through cosmos' ExecutionMode.LOCAL with dbt/profiles.yml. No cluster needed.

Both modes run the same commands with the same `--ds`, read the same environment variable names
and produce the same lake and warehouse contents, so `make airflow-run` exercises the DAG the
cluster runs. The CLI is the only way they reach the pipeline: nothing here imports it. Every step
declares its assets (assets.py).
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from airflow.sdk import BaseOperator

from . import assets, config

DS = "{{ ds }}"
DBT_PROJECT_NAME = "starlink42k"


def dbt_vars() -> dict[str, Any]:
    """dbt's `--vars`, rendered by cosmos, as the CLI's `transform` passes them: only the run's `ds`,
    which makes staging read the newest snapshot loaded on or before it (a rerun or backfill of an
    old ds rebuilds exactly what that day saw). Every other var is defined in dbt_project.yml from
    the pipeline's settings in the environment (DATASETS, TARGET_SATELLITES): the worker's in local
    mode, the settings ConfigMap in pods."""
    return {"ds": DS}


def cli(command: str, dataset: str | None = None) -> BaseOperator:
    """`starlink42k <command> [<dataset>] --ds {{ ds }}`, task id `<command>` (dashes as underscores)."""
    arguments = [command, *([dataset] if dataset else []), "--ds", DS]
    source = config.dataset_sources()[dataset] if dataset else None
    return _cli_task(command.replace("-", "_"), arguments, assets.step(command, source, dataset))


def report() -> BaseOperator:
    """`starlink42k report`: its outlet event (a new answer) carries the ds, for consumers."""
    return _cli_task("report", ["report", "--ds", DS], assets.step("report"), announces_answer=True)


def _cli_task(task_id: str, arguments: list[str], lineage: dict, **kwargs: Any) -> BaseOperator:
    if config.execution() == "kubernetes":
        from . import pod_defaults
        from .operators import CliPodOperator

        # The image's ENTRYPOINT is the CLI: only arguments.
        return CliPodOperator(task_id=task_id, arguments=arguments, **lineage, **kwargs, **pod_defaults.pipeline_pod())

    from . import local
    from .operators import CliOperator

    # Runs from the repository root so relative defaults mean what they mean for `make run`.
    return CliOperator(
        task_id=task_id,
        bash_command=shlex.join([local.executable("starlink42k"), *arguments]),
        cwd=str(config.REPO_ROOT),
        **lineage,
        **kwargs,
    )


def freshness(datasets: tuple[str, ...], task_id: str = "freshness") -> BaseOperator:
    """The freshness gate: `dbt source freshness` of the run's sources, as of its ds, kept in the
    warehouse; a source past its error threshold (CelesTrak) fails the task, so the run stops before
    dbt builds an answer on it, and the alert says which source, as of when, and the threshold."""
    sources = [f"{config.dataset_sources()[d]}.{d}" for d in datasets]
    lineage = {"inlets": [assets.warehouse_raw(d) for d in datasets], "outlets": [assets.FRESHNESS]}
    gate = ["freshness", "--ds", DS, "--fail-on-error"]
    if config.execution() == "kubernetes":
        from . import pod_defaults

        # dbt writes sources.json to its target path in the pod's /tmp; exit 1 is a result (a stale
        # source), which the CLI judges; anything else is dbt failing.
        dbt = (
            f"dbt source freshness --project-dir {pod_defaults.DBT_PROJECT_DIR} "
            f"--vars {shlex.quote(json.dumps(dbt_vars()))} --select "
            + " ".join(f"source:{s}" for s in sources)
            + '; status=$?; [ "$status" -le 1 ] || exit "$status"'
        )
        sources_json = f"{pod_defaults.DBT_TARGET}/sources.json"
        return _dbt_then_cli(task_id, ["bash", "-c", dbt], [*gate, "--from", sources_json], lineage, "CLI")
    return _cli_task(task_id, gate, lineage)


def _dbt_then_cli(task_id: str, dbt: list[str], arguments: list[str], lineage: dict, secrets: str) -> BaseOperator:
    """A pod: dbt (dbt image, init container) writes into the pod's /tmp, then the CLI (pipeline
    image) reads it, with the Secrets `secrets` names in kube_secrets (the docs upload needs the
    lake only; the freshness step the warehouse too)."""
    from . import kube_secrets, pod_defaults
    from .operators import DbtThenCliPodOperator

    pod = pod_defaults.pipeline_pod()
    return DbtThenCliPodOperator(
        task_id=task_id,
        dbt_arguments=dbt,
        **{
            **pod,
            "labels": {**pod["labels"], "app.kubernetes.io/component": task_id.replace("_", "-")},
            "env_vars": pod_defaults.env({**pod_defaults.PIPELINE_ENV, "DBT_TARGET_PATH": pod_defaults.DBT_TARGET}),
            "secrets": list(getattr(kube_secrets, secrets)),
            "arguments": arguments,
            "init_container_logs": True,
            **lineage,
        },
    )


def dbt_build(group_id: str = "dbt") -> Any:
    """`dbt build` of the project for this ds (cosmos DbtTaskGroup), rendered from the manifest:
    parsing the DAG never runs dbt or touches a database. emit_datasets is off: the group's assets
    are ours (the marts), not dbt's table URIs, which would carry warehouse host names."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    # dbt deps are baked into the dbt image; the project has no packages to install locally.
    project = ProjectConfig(manifest_path=config.manifest_path(), project_name=DBT_PROJECT_NAME, install_dbt_deps=False)
    # ProjectConfig wraps even a local manifest in an ObjectStoragePath, whose first open registers every
    # provider's filesystem: the Amazon provider's imports boto3, ~0.6 s of every parse. The manifest is
    # a local file (baked into the image, or dbt/target/), and cosmos reads it with exists() and open(),
    # which a Path has: give it the Path its type allows.
    project.manifest_path = config.manifest_path()
    if config.execution() == "kubernetes":
        from . import pod_defaults

        # Watcher: one pod runs the whole `dbt build` (dbt orders models and tests itself, 4 threads,
        # a failing test skips what depends on it); a deferrable sensor per model and per model's
        # tests mirrors the status in Airflow and starts a dbt pod only when retried. Pod-per-model
        # would start 20 to 36 dbt pods per run (airflow/cosmos_modes.py counts them).
        group = DbtTaskGroup(
            group_id=group_id,
            project_config=project,
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode.WATCHER_KUBERNETES, dbt_project_path=pod_defaults.DBT_PROJECT_DIR
            ),
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH, emit_datasets=False
            ),
            operator_args={**pod_defaults.dbt_pod(), "vars": dbt_vars()},
        )
    else:
        from . import local

        group = DbtTaskGroup(
            group_id=group_id,
            project_config=project,
            profile_config=local.profile_config(),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode.LOCAL,
                invocation_mode=InvocationMode.SUBPROCESS,
                dbt_executable_path=local.executable("dbt"),
                dbt_project_path=config.DBT_PROJECT_DIR,
            ),
            # One `dbt build --select <model>` per model (the model and its tests: half the processes of
            # run + test tasks); a test of several models runs in its own task after all of them.
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST,
                test_behavior=TestBehavior.BUILD,
                should_detach_multiple_parents_tests=True,
                emit_datasets=False,
            ),
            operator_args={"vars": dbt_vars(), **local.dbt_operator_args()},
        )
    # The group reads the loaded tables and the run's freshness, and writes the marts: declared on
    # its first tasks and its last ones.
    for task in group.get_roots():
        task.inlets = [assets.FRESHNESS, *(assets.warehouse_raw(d) for d in config.datasets())]
    for task in group.get_leaves():
        task.outlets = [assets.MARTS]
    return group


def dbt_docs(task_id: str = "dbt_docs") -> BaseOperator:
    """`dbt docs generate`, published to <lake>/dbt-docs/, where the Airflow UI serves it from
    (airflow/README.md: dbt docs, serving and access)."""
    lineage = {"inlets": [assets.MARTS], "outlets": [assets.DOCS]}
    if config.execution() == "kubernetes":
        from . import pod_defaults

        dbt = [
            "dbt",
            "docs",
            "generate",
            "--vars",
            json.dumps(dbt_vars()),
            "--project-dir",
            pod_defaults.DBT_PROJECT_DIR,
        ]
        return _dbt_then_cli(task_id, dbt, ["publish-docs", "--from", pod_defaults.DBT_TARGET], lineage, "LAKE")

    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtDocsLocalOperator

    from . import local

    # Not cosmos' DbtDocsS3KubernetesOperator in the cluster: it needs the AWS CLI in the dbt image,
    # copies the Airflow connection's keys into the pod spec as literal values, uploads from
    # <project>/target (read-only there) and joins --vars into a shell command unquoted.
    return DbtDocsLocalOperator(
        task_id=task_id,
        project_dir=str(config.DBT_PROJECT_DIR),
        profile_config=local.profile_config(),
        dbt_executable_path=local.executable("dbt"),
        invocation_mode=InvocationMode.SUBPROCESS,
        install_deps=False,
        vars=dbt_vars(),
        emit_datasets=False,
        callback=local.publish_docs,
        **lineage,
        **local.dbt_operator_args(),
    )
