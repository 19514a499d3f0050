"""The `transform` step: `dbt build` of the project in dbt/ against the warehouse, and the upload of
the docs dbt generates.

In the cluster dbt runs in its own image through astronomer-cosmos; this is the embedded path
(`make run`, tests), through dbt_runner.py, which runs the same project the same way.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from . import warehouse as wh
from .context import Context
from .dbt_runner import dbt
from .errors import ConfigError
from .lake import Lake
from .log import event, get_logger, timed

log = get_logger("transform")


def transform(ctx: Context, ds: str, *, lock: bool = True) -> None:
    """dbt build for ds. ``lock=False``: the caller holds marts_lock (``run``, until its report)."""
    with timed(log, "transform", "dbt build: staging → intermediate → marts", ds=ds):
        with wh.session(ctx.warehouse) as conn:  # dbt's sources must exist, loaded or not
            wh.create_raw_tables(conn)
        with wh.marts_lock(ctx.warehouse) if lock else contextlib.nullcontext():
            dbt(ctx, "build", ds=ds)


DOCS_FILES = ("index.html", "manifest.json", "catalog.json")
DOCS_PREFIX = "dbt-docs/"


def publish_docs(lake: Lake, target_dir: Path) -> list[str]:
    """Copy what `dbt docs generate` wrote to <lake>/dbt-docs/, where the Airflow UI serves it from.
    The page (index.html) goes last, so it never points at files of an older generation."""
    missing = [name for name in DOCS_FILES if not (target_dir / name).is_file()]
    if missing:
        raise ConfigError(f"{target_dir} has no {', '.join(missing)}: run `dbt docs generate` first")
    uris = []
    for name in sorted(DOCS_FILES, key=lambda n: n == "index.html"):
        kind = "text/html" if name.endswith(".html") else "application/json"
        lake.put_file(DOCS_PREFIX + name, target_dir / name, kind)
        uris.append(lake.uri(DOCS_PREFIX + name))
    event(log, "docs.published", f"dbt docs → {lake.uri(DOCS_PREFIX)}", files=len(uris))
    return uris
