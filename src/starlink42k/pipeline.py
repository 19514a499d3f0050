"""The pipeline's steps, for one logical date (ds), and `run`, which does them all in order.

    extract    source API → lake raw/<source>/<dataset>/ds=<ds>/         (ingest.py, one dataset)
    to_csv     lake raw → lake curated/… (typed CSV) and rejects/…        (ingest.py, one dataset)
    load       lake curated → warehouse raw.<dataset>, unpublished        (ingest.py, one dataset)
    publish    every dataset's load of ds → its partitions, at once       (publish.py; a load publishes
               when it completes the ds, `run` after its last load)
    freshness  dbt source freshness as of ds → raw.source_freshness        (freshness.py)
    transform  dbt build: staging → intermediate → marts                   (transform.py)
    report     marts → answer.json, chart.png, report.md in the lake      (report.py)

The CLI (cli.py) exposes each as a command, which is how Airflow runs them, one pod or process
per step. Every step reads only what the one before committed, so any can be rerun on its own.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from . import warehouse as wh
from .answer import Answer
from .context import Context
from .dbt_runner import dbt
from .errors import PipelineError, StaleSourceError
from .freshness import freshness
from .ingest import extract, fetch, load, to_csv, write_raw
from .log import event, get_logger
from .publish import describe, publish
from .replay import SAMPLE_DIR, ReplayServer
from .report import backtest_text, report
from .settings import Settings
from .transform import publish_docs, transform

__all__ = [
    "backtest",
    "demo",
    "extract",
    "freshness",
    "load",
    "publish",
    "publish_docs",
    "report",
    "run",
    "to_csv",
    "transform",
]
log = get_logger("pipeline")


def run(ctx: Context, ds: str, *, allow_stale: bool = False) -> Answer:
    """Every step for every dataset of DATASETS. All sources are fetched before anything is
    written, so an unreachable source leaves the lake and the warehouse untouched for this ds. The
    ds is published once all its datasets are loaded. A source past its error threshold stops the
    run before dbt, as the DAG's freshness gate does, unless ``allow_stale``."""
    names = ctx.settings.datasets
    started = time.perf_counter()
    snapshots = [fetch(ctx, name) for name in names]
    # One run of a ds at a time (a second waits, then redoes it: runs are idempotent per ds); the
    # marts are rebuilt and read under one lock, so the answer is of the marts this run built.
    with wh.advisory_lock(ctx.warehouse, wh.RUN_LOCK, ds, what=f"another run of ds {ds}"):
        for snap in snapshots:
            with contextlib.closing(snap):  # its spooled body is dropped once it is in the lake
                write_raw(ctx, snap, ds)
        for name in names:
            to_csv(ctx, name, ds)
        for name in names:
            load(ctx, name, ds, publish=False)
        state = publish(ctx, ds)
        if state.pending and state.not_loaded:  # another process changed the ds meanwhile
            raise PipelineError(f"{describe(state)}; rerun `starlink42k run --ds {ds}`")
        try:
            freshness(ctx, ds, fail_on_error=not allow_stale)  # recorded; the answer states it
        except StaleSourceError as exc:
            raise StaleSourceError(
                f"{exc}. ds {ds} is loaded and published; nothing was built from it. `starlink42k run "
                "--allow-stale` (`make run ALLOW_STALE=1`) answers anyway, marked stale"
            ) from None
        with wh.marts_lock(ctx.warehouse):
            transform(ctx, ds, lock=False)
            answer = report(ctx, ds, lock=False)
    seconds = time.perf_counter() - started
    event(log, "run.done", f"pipeline finished in {seconds:.1f}s", ds=ds, datasets=",".join(names))
    return answer


def demo_dir(settings: Settings) -> Path:
    """Where `demo` keeps its own warehouse and lake: nothing of a real run is touched."""
    return settings.data_dir / "demo"


def demo(settings: Settings, ds: str) -> tuple[Context, Answer]:
    """`run` on the bundled sample data, served from loopback, into its own embedded warehouse and
    local lake under $DATA_DIR/demo."""
    folder = demo_dir(settings)
    with ReplayServer.from_directory(SAMPLE_DIR) as server:
        event(log, "demo.replay", f"serving sample data from {SAMPLE_DIR.name}/ at {server.url}")
        ctx = Context(
            Settings.from_env(
                {
                    **os.environ,
                    "SPACEX_API_URL": server.spacex_url,
                    "CELESTRAK_URL": server.url,
                    "DATA_DIR": str(folder),
                    "LAKE_URL": (folder / "lake").as_uri(),
                    "WAREHOUSE_URL": "",
                    "DATASETS": "",  # every dataset
                    "SAMPLE_DATA": "1",
                }
            )
        )
        return ctx, run(ctx, ds, allow_stale=True)  # sample data, frozen by design: stale, and it says so


def backtest(ctx: Context, ds: str, cutoff: str | None = None, horizon: int | None = None) -> str:
    """The rolling-origin backtest as of ds, as text; with ``cutoff`` (or ``horizon`` alone: that many
    months before the as-of date) one more fit at that date, checked ``horizon`` months later (12).
    Rebuilds the forecast's fits, paths and backtest for ds (dbt/selectors.yml), as a transform does:
    holding marts_lock, so that no transform or report runs meanwhile. Like every dbt build it empties
    marts.marts_build: `report` then asks for a `transform` of its ds first."""
    extra: dict[str, object] = {}
    if cutoff or horizon:
        extra = {"backtest_cutoff": cutoff or "horizon", "backtest_horizon_months": horizon or 12}
    with wh.marts_lock(ctx.warehouse):
        dbt(ctx, "build", "--selector", "backtest", ds=ds, extra_vars=extra)
        return backtest_text(ctx)
