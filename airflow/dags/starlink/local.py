"""The local mode's glue: dbt (through cosmos) gets the same warehouse and lake as the CLI steps,
by asking the CLI, the one contract with the pipeline, as the pods get them from the Secrets.

- The warehouse: `starlink42k warehouse dbt-env` prints the variables dbt/profiles.yml reads, for
  WAREHOUSE_URL or for the embedded PostgreSQL under DATA_DIR (started if needed).
- The docs: `starlink42k publish-docs --from <target>` copies them into the lake, as the cluster's
  docs pod does.
Both run when a task runs, never when the DAG is parsed, from the repository root (the CLI's
relative defaults, DATA_DIR and DBT_PROJECT_DIR, mean what they mean for `make run`).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from . import config


def executable(name: str) -> str:
    """`name` beside this interpreter (the project's .venv), else from PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def cli(*args: str) -> str:
    """Run the `starlink42k` CLI and return its standard output; its log lines go to the task log."""
    result = subprocess.run(
        [executable("starlink42k"), "--quiet", *args], cwd=config.REPO_ROOT, capture_output=True, text=True
    )
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        raise RuntimeError(f"starlink42k {' '.join(args)} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def profile_config() -> Any:
    from cosmos import ProfileConfig

    return ProfileConfig(
        profile_name="starlink42k",
        target_name="warehouse",
        profiles_yml_filepath=config.DBT_PROJECT_DIR / "profiles.yml",
    )


def warehouse_env(context: Any, operator: Any) -> None:
    """cosmos interceptor: the warehouse as profiles.yml's variables, from the CLI."""
    dbt_env = json.loads(cli("warehouse", "dbt-env"))
    operator.env = {**(operator.env or {}), **dbt_env, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_operator_args() -> dict[str, Any]:
    # append_env: dbt sees the worker's environment (PATH, DATA_DIR, DATASETS, TARGET_SATELLITES, ...)
    # plus the warehouse variables.
    return {"append_env": True, "interceptors": [warehouse_env]}


def publish_docs(project_dir: str, **_: Any) -> None:
    """cosmos docs callback: the files the docs page needs to <lake>/dbt-docs/, by the same CLI
    command as the cluster's docs pod."""
    cli("publish-docs", "--from", str(Path(project_dir) / "target"))
