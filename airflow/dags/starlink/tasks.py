"""The pipeline's steps as Airflow tasks. The execution mode is chosen once, when Steps is built
(config.execution()): its module, kubernetes.py or local.py, builds every task; this module says
what each step runs (the CLI's arguments, dbt's vars) and what it reads and writes (assets.py).

kubernetes  every CLI step is a pod from the pipeline image; dbt runs in the dbt image through
            cosmos' watcher mode (one `dbt build` pod; a task per model, in the triggerer);
            dbt docs and dbt source freshness run in a pod's init container from the dbt image,
            then the CLI stores what they wrote;
local       every CLI step is a process of the `starlink42k` CLI of this checkout's virtualenv;
            dbt runs through cosmos' ExecutionMode.LOCAL with dbt/profiles.yml. No cluster needed.

Both modes run the same commands with the same `--ds`, read the same environment variable names
and produce the same lake and warehouse contents, so `make airflow-run` exercises the DAG the
cluster runs.
"""

from __future__ import annotations

from types import ModuleType
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


def mode_module(mode: str) -> ModuleType:
    if mode == "kubernetes":
        from . import kubernetes

        return kubernetes
    from . import local

    return local


class Steps:
    """The steps of one DAG, built by the module of one execution mode."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode or config.execution()
        self.build = mode_module(self.mode)

    def cli(self, command: str, dataset: str | None = None) -> BaseOperator:
        """`starlink42k <command> [<dataset>] --ds {{ ds }}`, task id `<command>` (dashes as underscores)."""
        arguments = [command, *([dataset] if dataset else []), "--ds", DS]
        source = config.dataset_sources()[dataset] if dataset else None
        return self.build.cli(command.replace("-", "_"), arguments, assets.step(command, source, dataset))

    def report(self) -> BaseOperator:
        """`starlink42k report`: its outlet event (a new answer) carries the ds, for consumers."""
        return self.build.cli("report", ["report", "--ds", DS], assets.step("report"), announces_answer=True)

    def freshness(self, datasets: tuple[str, ...], task_id: str = "freshness") -> BaseOperator:
        """The freshness gate: `dbt source freshness` of the run's sources, as of its ds, kept in the
        warehouse; a source past its error threshold (CelesTrak) fails the task at once, so the run
        stops before dbt builds an answer on it, and the alert says which source, as of when, and the
        threshold."""
        sources = [f"{config.dataset_sources()[d]}.{d}" for d in datasets]
        lineage = {"inlets": [assets.warehouse_raw(d) for d in datasets], "outlets": [assets.FRESHNESS]}
        gate = ["freshness", "--ds", DS, "--fail-on-error"]
        return self.build.freshness_gate(task_id, gate, sources, dbt_vars(), lineage)

    def dbt_build(self, group_id: str = "dbt") -> Any:
        """`dbt build` of the project for this ds (a cosmos DbtTaskGroup), rendered from the manifest:
        parsing the DAG never runs dbt or touches a database. emit_datasets is off: the group's
        assets are ours (the marts), not dbt's table URIs, which would carry warehouse host names."""
        from cosmos import ProjectConfig

        # dbt deps are baked into the dbt image; the project has no packages to install locally.
        project = ProjectConfig(
            manifest_path=config.manifest_path(), project_name=DBT_PROJECT_NAME, install_dbt_deps=False
        )
        # ProjectConfig wraps even a local manifest in an ObjectStoragePath, whose first open registers
        # every provider's filesystem: the Amazon provider's imports boto3, ~0.6 s of every parse. The
        # manifest is a local file (baked into the image, or dbt/target/), and cosmos reads it with
        # exists() and open(), which a Path has: give it the Path its type allows.
        project.manifest_path = config.manifest_path()
        # The group reads the loaded tables and the run's freshness, and writes the marts.
        lineage = {
            "inlets": [assets.FRESHNESS, *(assets.warehouse_raw(d) for d in config.datasets())],
            "outlets": [assets.MARTS],
        }
        return self.build.dbt_group(group_id, project, dbt_vars(), lineage)

    def dbt_docs(self, task_id: str = "dbt_docs") -> BaseOperator:
        """`dbt docs generate`, published to <lake>/dbt-docs/, where the Airflow UI serves it from
        (airflow/README.md: dbt docs, serving and access)."""
        return self.build.dbt_docs(task_id, dbt_vars(), {"inlets": [assets.MARTS], "outlets": [assets.DOCS]})
