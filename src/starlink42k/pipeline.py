"""The pipeline's steps, for one logical date (ds), and `run`, which does them all in order.

    extract    source API → lake raw/<source>/<dataset>/ds=<ds>/         (ingest.py, one dataset)
    to_csv     lake raw → lake curated/… (typed CSV) and rejects/…        (ingest.py, one dataset)
    load       lake curated → warehouse raw.<dataset>, partition ds       (ingest.py, one dataset)
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
from .freshness import freshness
from .ingest import extract, fetch, load, to_csv, write_raw
from .log import event, get_logger
from .replay import SAMPLE_DIR, ReplayServer
from .report import backtest_text, report
from .settings import Settings
from .transform import publish_docs, transform

__all__ = ["backtest", "demo", "extract", "freshness", "load", "publish_docs", "report", "run", "to_csv", "transform"]
log = get_logger("pipeline")


def run(ctx: Context, ds: str) -> Answer:
    """Every step for every dataset of DATASETS. All sources are fetched before anything is
    written, so an unreachable source leaves the lake and the warehouse untouched for this ds."""
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
            load(ctx, name, ds)
        freshness(ctx, ds)  # recorded and reported; only the Airflow run's gate fails on an error
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
        return ctx, run(ctx, ds)


def backtest(ctx: Context, ds: str, cutoff: str | None = None, horizon: int | None = None) -> str:
    """The forecast refitted at ``cutoff`` and checked ``horizon`` months later; the marts'
    backtest table as text."""
    extra: dict[str, object] = {"backtest_cutoff": cutoff} if cutoff else {}
    if horizon:
        extra["backtest_horizon_months"] = horizon
    dbt(ctx, "build", "--selector", "backtest", ds=ds, extra_vars=extra)  # dbt/selectors.yml
    return backtest_text(ctx)
