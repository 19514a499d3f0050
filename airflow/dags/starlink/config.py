"""What the DAG reads from its environment. Every read has a default, so the DAG imports with no
variable set; a value that is set but wrong fails the import with a message naming it (an import
error in the UI is better than a pipeline silently running somewhere else).

STARLINK_EXECUTION   `local` (default) or `kubernetes` (set by k8s/airflow-values.yaml)
STARLINK_DATASETS    comma-separated subset of DATASETS, e.g. `launches,starlink` switches CelesTrak off
STARLINK_NAMESPACE   namespace of the pipeline pods (default `starlink`)
STARLINK_DBT_MANIFEST  dbt manifest.json the dbt steps are rendered from (default: dbt/target/ of this checkout)

Why `local` is the default: the DAG must work wherever the repository is checked out (tests,
`make airflow-run`, a laptop) with nothing configured; the cluster is the one place that is
configured anyway, and its values set `kubernetes` explicitly. A missing setting in the cluster
still fails loudly: the Airflow image has neither the `starlink42k` CLI nor dbt, so the first
local-mode task would fail at once instead of writing anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path

# The one list of datasets, in display order. `satcat` (CelesTrak) can be switched off by env.
DATASETS: tuple[str, ...] = ("launches", "starlink", "satcat")
EXECUTION_MODES: tuple[str, ...] = ("local", "kubernetes")

# airflow/dags/starlink/config.py -> the repository root (also true in a git-sync checkout).
REPO_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = REPO_ROOT / "dbt"


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def execution() -> str:
    mode = _env("STARLINK_EXECUTION").lower() or "local"
    if mode not in EXECUTION_MODES:
        raise ValueError(f"STARLINK_EXECUTION={mode!r}: choose one of {', '.join(EXECUTION_MODES)}")
    return mode


def datasets() -> tuple[str, ...]:
    raw = _env("STARLINK_DATASETS")
    if not raw:
        return DATASETS
    chosen = {d.strip().lower() for d in raw.split(",") if d.strip()}
    unknown = sorted(chosen - set(DATASETS))
    if unknown or not chosen:
        raise ValueError(f"STARLINK_DATASETS={raw!r}: {unknown or 'nothing'} is not in {', '.join(DATASETS)}")
    return tuple(d for d in DATASETS if d in chosen)


def namespace() -> str:
    return _env("STARLINK_NAMESPACE") or "starlink"


def manifest_path() -> Path:
    path = Path(_env("STARLINK_DBT_MANIFEST") or DBT_PROJECT_DIR / "target" / "manifest.json")
    if not path.is_file():
        raise FileNotFoundError(
            f"dbt manifest {path} not found: run `make manifest` (dbt parse, no database needed), "
            "or point STARLINK_DBT_MANIFEST at one"
        )
    return path
