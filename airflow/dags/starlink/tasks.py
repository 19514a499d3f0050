"""The pipeline's steps as Airflow tasks, in either execution mode (config.execution()):

kubernetes  every CLI step is a pod from the pipeline image; dbt runs in the dbt image through
            cosmos' ExecutionMode.WATCHER_KUBERNETES (one `dbt build` pod; a sensor per model and
            per model's tests);
local       every CLI step is a subprocess of the `starlink42k` CLI of this checkout's virtualenv;
            dbt runs through cosmos' ExecutionMode.LOCAL with dbt/profiles.yml. No cluster needed.

Both modes run the same commands with the same `--ds`, read the same environment variable names
and produce the same lake and warehouse contents, so `make airflow-run` exercises the DAG the
cluster runs. The CLI is the only way they reach the pipeline: nothing here imports it.
"""

from __future__ import annotations

import shlex
from typing import Any

from airflow.sdk import BaseOperator

from . import config

DS = "{{ ds }}"


def dbt_vars() -> dict[str, Any]:
    """dbt's `--vars`, rendered by cosmos, as the CLI's `transform` passes them: only the run's `ds`,
    which makes staging read the newest snapshot loaded on or before it (a rerun or backfill of an
    old ds rebuilds exactly what that day saw). Every other var is defined in dbt_project.yml from
    the pipeline's settings in the environment (DATASETS, TARGET_SATELLITES): the worker's in local
    mode, the settings ConfigMap in pods."""
    return {"ds": DS}


DBT_PROJECT_NAME = "starlink42k"


def cli(command: str, dataset: str | None = None) -> BaseOperator:
    """`starlink42k <command> [<dataset>] --ds {{ ds }}`, task id `<command>` (dashes as underscores)."""
    arguments = [command, *([dataset] if dataset else []), "--ds", DS]
    task_id = command.replace("-", "_")
    if config.execution() == "kubernetes":
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

        from . import pod_defaults

        # The image's ENTRYPOINT is the CLI: only arguments.
        return KubernetesPodOperator(task_id=task_id, arguments=arguments, **pod_defaults.pipeline_pod())

    from airflow.providers.standard.operators.bash import BashOperator

    from . import local

    # Inherits the worker's environment (SPACEX_API_URL, LAKE_URL, WAREHOUSE_URL, DATA_DIR, ...);
    # runs from the repository root so relative defaults mean what they mean for `make run`.
    return BashOperator(
        task_id=task_id,
        bash_command=shlex.join([local.executable("starlink42k"), *arguments]),
        cwd=str(config.REPO_ROOT),
    )


def dbt_build(group_id: str = "dbt") -> Any:
    """`dbt build` of the project for this ds (cosmos DbtTaskGroup), rendered from the manifest:
    parsing the DAG never runs dbt or touches a database. emit_datasets is off: nothing is
    scheduled on dbt's tables, and their asset URIs would carry warehouse host names."""
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    # dbt deps are baked into the dbt image; the project has no packages to install locally.
    project = ProjectConfig(manifest_path=config.manifest_path(), project_name=DBT_PROJECT_NAME, install_dbt_deps=False)
    if config.execution() == "kubernetes":
        from . import pod_defaults

        # Watcher: one pod runs the whole `dbt build` (dbt orders models and tests itself, 4 threads,
        # a failing test skips what depends on it); a deferrable sensor per model and per model's
        # tests mirrors the status in Airflow and starts a dbt pod only when retried. Pod-per-model
        # would start 20 to 36 dbt pods per run (airflow/cosmos_modes.py counts them).
        return DbtTaskGroup(
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

    from . import local

    return DbtTaskGroup(
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


def dbt_docs(task_id: str = "dbt_docs") -> BaseOperator:
    """`dbt docs generate`, published to <lake>/dbt-docs/ for the Airflow UI (see dbt_docs.py)."""
    from . import dbt_docs

    if config.execution() == "kubernetes":
        return dbt_docs.kubernetes_task(task_id, dbt_vars())
    return dbt_docs.local_task(task_id, dbt_vars())
