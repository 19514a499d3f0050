"""What the DAG reads from its environment and from the dbt manifest. Every read has a default, so
the DAG imports with no variable set; a value that is set but wrong fails the import with a message
naming it (an import error in the UI is better than a pipeline silently running somewhere else).

STARLINK_EXECUTION     `local` (default) or `kubernetes` (set by k8s/airflow-values.yaml)
DATASETS               the pipeline's own setting (the CLI reads the same name): a comma-separated
                       subset of the datasets, e.g. `launches,starlink` switches CelesTrak off
STARLINK_NAMESPACE     namespace of the pipeline pods (default `starlink`)
STARLINK_IMAGE_TAG     tag of the pipeline and dbt images (kubernetes mode; the Airflow image sets it)
STARLINK_DBT_MANIFEST  dbt manifest.json the dbt tasks are rendered from (default: dbt/target/ of
                       this checkout; the Airflow image sets its own)

The datasets themselves come from the manifest: the dbt sources the pipeline loads carry
`meta: {dataset: <name>}` (dbt/models/staging/*/_*__sources.yml), so the DAG has no list of its own
to drift from the pipeline's (tests/airflow/test_airflow_contracts.py holds the two together).

Why `local` is the default: the DAG must work wherever the repository is checked out (tests,
`make airflow-run`, a laptop) with nothing configured; the cluster is the one place that is
configured anyway, and its values set `kubernetes` explicitly. A missing setting in the cluster
still fails loudly: the Airflow image has neither the `starlink42k` CLI nor dbt, so the first
local-mode task would fail at once instead of writing anywhere.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

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
    """The datasets this DAG ingests: DATASETS, else every dataset the dbt project reads."""
    known = tuple(dataset_sources())
    raw = _env("DATASETS")
    if not raw:
        return known
    chosen = {d.strip().lower() for d in raw.split(",") if d.strip()}
    unknown = sorted(chosen - set(known))
    if unknown or not chosen:
        raise ValueError(f"DATASETS={raw!r}: {unknown or 'nothing'} is not in {', '.join(known)}")
    return tuple(d for d in known if d in chosen)


def dataset_sources() -> dict[str, str]:
    """Every dataset the dbt project reads, with its source (the lake folder: spacex, celestrak): the
    manifest's sources marked `meta.dataset`, sorted by dataset."""
    path = manifest_path()
    sources = manifest()["sources"].values()
    found = {s["meta"]["dataset"]: s["source_name"] for s in sources if "dataset" in s.get("meta", {})}
    if not found:
        raise ValueError(f"{path} has no dbt source with meta.dataset: rebuild it (`make manifest`)")
    return dict(sorted(found.items()))


def manifest() -> dict:
    """The dbt manifest the dbt tasks are rendered from, parsed once per version of the file."""
    path = manifest_path()
    return _parsed(str(path), path.stat().st_mtime_ns)


@functools.cache
def _parsed(path: str, mtime_ns: int) -> dict:
    return json.loads(Path(path).read_text())


def namespace() -> str:
    return _env("STARLINK_NAMESPACE") or "starlink"


def image_tag() -> str:
    """The tag of the pipeline and dbt images: the Airflow image's own (images/tag.sh)."""
    tag = _env("STARLINK_IMAGE_TAG")
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", tag) or tag == "latest":
        raise ValueError(
            f"STARLINK_IMAGE_TAG={tag!r}: the kubernetes mode needs the images' tag (the Airflow image "
            "sets it at build, `make images`), never `latest`"
        )
    return tag


def manifest_path() -> Path:
    path = Path(_env("STARLINK_DBT_MANIFEST") or DBT_PROJECT_DIR / "target" / "manifest.json")
    if not path.is_file():
        raise FileNotFoundError(
            f"dbt manifest {path} not found: run `make manifest` (dbt parse, no database needed), "
            "or point STARLINK_DBT_MANIFEST at one"
        )
    return path
