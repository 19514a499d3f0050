"""Everything local-specific of the DAG (STARLINK_EXECUTION=local, the default), in one module: every
step is a process of the `starlink42k` CLI of this checkout's virtualenv, dbt runs through cosmos'
ExecutionMode.LOCAL with dbt/profiles.yml. No cluster needed: `make airflow-run`, the tests.
tasks.py picks this module or kubernetes.py once. cosmos is imported by the functions that build
dbt tasks only (answers.py asks the CLI through this module at run time).

dbt (through cosmos) gets the same warehouse and lake as the CLI steps by asking the CLI, as the pods
get them from the Secrets:
- the warehouse: `starlink42k warehouse dbt-env` prints the variables dbt/profiles.yml reads, for
  WAREHOUSE_URL or for the embedded PostgreSQL under DATA_DIR (started if needed);
- the docs: `starlink42k publish-docs --from <target>` copies them into the lake, as the cluster's
  docs pod does.
Both run when a task runs, never when the DAG is parsed, from the repository root (the CLI's
relative defaults, DATA_DIR and DBT_PROJECT_DIR, mean what they mean for `make run`).
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.standard.operators.bash import BashOperator

from . import config
from .operators import Step


def executable(name: str) -> str:
    """`name` beside this interpreter (the project's .venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def run_cli(*args: str) -> str:
    """Run the `starlink42k` CLI and return its standard output; its log lines go to the task log."""
    result = subprocess.run(
        [executable("starlink42k"), "--quiet", *args], cwd=config.REPO_ROOT, capture_output=True, text=True
    )
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"starlink42k {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


class CliOperator(Step, BashOperator):
    """The CLI as a local process; a failure's reason is the CLI's own error line."""

    def __init__(self, *, announces_answer: bool = False, **kwargs: Any) -> None:
        # The worker's environment (SPACEX_API_URL, WAREHOUSE_URL, DATA_DIR, ...) plus ours.
        super().__init__(append_env=True, **kwargs)
        self.announces_answer = announces_answer

    def execute(self, context: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="starlink42k-") as tmp:
            error_file = Path(tmp) / "error"
            self.env = {**(self.env or {}), "STARLINK42K_ERROR_FILE": str(error_file)}
            try:
                result = super().execute(context)
            except Exception as exc:
                self.raise_failure(error_file.read_text() if error_file.exists() else "", exc)
        self.announce(context)
        return result


def profile_config() -> Any:
    from cosmos import ProfileConfig

    return ProfileConfig(
        profile_name="starlink42k",
        target_name="warehouse",
        profiles_yml_filepath=config.DBT_PROJECT_DIR / "profiles.yml",
    )


def warehouse_env(context: Any, operator: Any) -> None:
    """cosmos interceptor: the warehouse as profiles.yml's variables, from the CLI."""
    dbt_env = json.loads(run_cli("warehouse", "dbt-env"))
    operator.env = {**(operator.env or {}), **dbt_env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


# append_env: dbt sees the worker's environment (PATH, DATA_DIR, DATASETS, TARGET_SATELLITES, ...)
# plus the warehouse variables.
DBT_OPERATOR_ARGS = {"append_env": True, "interceptors": [warehouse_env]}


def publish_docs(project_dir: str, **_: Any) -> None:
    """cosmos docs callback: the files the docs page needs to <lake>/dbt-docs/, by the same CLI
    command as the cluster's docs pod."""
    run_cli("publish-docs", "--from", str(Path(project_dir) / "target"))


# --- the steps -------------------------------------------------------------------------------------


def cli(task_id: str, arguments: list[str], lineage: dict[str, Any], *, announces_answer: bool = False) -> Any:
    """`starlink42k <arguments>` from the repository root, so relative defaults mean what they mean
    for `make run`."""
    return CliOperator(
        task_id=task_id,
        bash_command=shlex.join([executable("starlink42k"), *arguments]),
        cwd=str(config.REPO_ROOT),
        announces_answer=announces_answer,
        **lineage,
    )


def freshness_gate(task_id: str, arguments: list[str], sources: list[str], dbt_vars: dict, lineage: dict) -> Any:
    """The CLI runs `dbt source freshness` itself (of the run's datasets), judges and keeps it."""
    return cli(task_id, arguments, lineage)


def dbt_docs(task_id: str, dbt_vars: dict, lineage: dict) -> Any:
    """`dbt docs generate`, then the CLI publishes it to <lake>/dbt-docs/."""
    from cosmos.constants import InvocationMode
    from cosmos.operators.local import DbtDocsLocalOperator

    return DbtDocsLocalOperator(
        task_id=task_id,
        project_dir=str(config.DBT_PROJECT_DIR),
        profile_config=profile_config(),
        dbt_executable_path=executable("dbt"),
        invocation_mode=InvocationMode.SUBPROCESS,
        install_deps=False,
        vars=dbt_vars,
        emit_datasets=False,
        callback=publish_docs,
        **lineage,
        **DBT_OPERATOR_ARGS,
    )


def dbt_group(group_id: str, project: Any, dbt_vars: dict, lineage: dict) -> Any:
    """One `dbt build --select <model>` per model (the model and its tests: half the processes of
    run + test tasks); a test of several models runs in its own task after all of them. The first
    tasks read the group's inlets, the last ones write its outlets."""
    from cosmos import DbtTaskGroup, ExecutionConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

    group = DbtTaskGroup(
        group_id=group_id,
        project_config=project,
        profile_config=profile_config(),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL,
            invocation_mode=InvocationMode.SUBPROCESS,
            dbt_executable_path=executable("dbt"),
            dbt_project_path=config.DBT_PROJECT_DIR,
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            test_behavior=TestBehavior.BUILD,
            should_detach_multiple_parents_tests=True,
            emit_datasets=False,
        ),
        operator_args={"vars": dbt_vars, **DBT_OPERATOR_ARGS},
    )
    for task in group.get_roots():
        task.inlets = lineage["inlets"]
    for task in group.get_leaves():
        task.outlets = lineage["outlets"]
    return group
