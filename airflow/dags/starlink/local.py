"""The embedded (local) mode's glue: dbt gets the same warehouse and lake as the CLI steps.

The CLI steps read WAREHOUSE_URL, LAKE_URL and DATA_DIR; dbt/profiles.yml reads WAREHOUSE_HOST and
friends. Both are derived at run time (never at parse time) with the CLI's own code, so an unset
WAREHOUSE_URL means the same embedded PostgreSQL under DATA_DIR for every step.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import config


def data_dir() -> Path:
    # The CLI's default is ./data; the local steps run from the repository root.
    return (config.REPO_ROOT / (os.environ.get("DATA_DIR") or "data")).resolve()


def profile_config() -> Any:
    from cosmos import ProfileConfig

    return ProfileConfig(
        profile_name="starlink42k",
        target_name="warehouse",
        profiles_yml_filepath=config.DBT_PROJECT_DIR / "profiles.yml",
    )


def warehouse_env(context: Any, operator: Any) -> None:
    """cosmos interceptor: WAREHOUSE_URL (or the embedded server) as profiles.yml's variables."""
    from starlink42k.warehouse import resolve

    warehouse = resolve(os.environ.get("WAREHOUSE_URL") or None, data_dir())
    operator.env = {**(operator.env or {}), **warehouse.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def dbt_operator_args() -> dict[str, Any]:
    # append_env: dbt sees the worker's environment (PATH, DATA_DIR, ...) plus the warehouse variables.
    return {"append_env": True, "interceptors": [warehouse_env]}


def lake() -> Any:
    from starlink42k.lake import open_lake

    url = os.environ.get("LAKE_URL") or (data_dir() / "lake").as_uri()
    return open_lake(url, os.environ.get("S3_ENDPOINT_URL") or None)


def publish_docs(project_dir: str, **_: Any) -> None:
    """cosmos docs callback: the files the docs page needs to <lake>/dbt-docs/, as the cluster's
    `starlink42k publish-docs` does."""
    from starlink42k.transform import publish_docs as publish

    publish(lake(), Path(project_dir) / "target")
