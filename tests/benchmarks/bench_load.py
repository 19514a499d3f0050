"""Benchmark: the project's load path vs pandas ``to_sql`` vs ``psql \\copy``, side by side.

    make bench BENCH=load          # N = 10,000 / 100,000 / 1,000,000, 5 runs of each way
    make bench BENCH=load BENCH_ROWS=50000 BENCH_RUNS=3

For each N it writes N synthetic starlink-shaped rows through the real ``to-csv`` writer into a
local lake, then loads the same CSV three ways into the same PostgreSQL:
  project  ``ingest.load``: stream from the lake, COPY into a new partition, swap it in (one tx)
  pandas   ``pd.read_csv`` + ``DataFrame.to_sql(if_exists="append")``, what most pipelines do
  \\copy   ``psql \\copy`` of the file into a plain table: the client-side limit
Each way is timed BENCH_RUNS times: the minimum (the machine at its best) and the median (as usual).
Results are printed and written to ``$DATA_DIR/bench/load.json``. Not a test: numbers vary by machine
(tests/benchmarks/test_benchmarks.py runs it at a tiny size, so that it cannot rot).
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import psycopg

from starlink42k import datasets, ingest
from starlink42k import lake as lakes
from starlink42k import warehouse as wh
from starlink42k.context import Context
from starlink42k.curate import write_csv_file
from starlink42k.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.spacex_docs import starlink


def synthetic_docs(n: int):
    rng = random.Random(42)
    start = date(2019, 5, 24)
    for i in range(n):
        launched = start + timedelta(days=i // 50)
        decayed = rng.random() < 0.05
        yield starlink(
            44000 + i,
            f"{launched.year}-{(i // 50) % 999 + 1:03d}A",
            launched,
            launch_id=f"{i // 50:024x}",
            decay_date=launched + timedelta(days=rng.randint(30, 900)) if decayed else None,
            iso_dates=i % 2 == 0,
        )


def psql_binary() -> str:
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall/bin/psql")


def timed(fn: Callable[[], object], runs: int) -> dict[str, float]:
    """min and median of `runs` timings of fn() (the min is the machine's best; the median its usual)."""
    seconds = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - t)
    return {"min": round(min(seconds), 3), "median": round(statistics.median(seconds), 3)}


def run_one(n: int, ctx: Context, url: str, workdir: Path, runs: int) -> dict:
    spec = datasets.get("starlink")
    ds = "2024-01-31"
    csv_path = workdir / f"starlink_{n}.csv"
    t = time.perf_counter()
    result = write_csv_file(spec, synthetic_docs(n), csv_path)
    to_csv_s = time.perf_counter() - t
    lakes.write_partition(
        ctx.lake,
        lakes.curated_key("spacex", "starlink", ds),
        csv_path,
        {"rows": result.rows, "rejects": 0},
        "text/csv",
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
        conn.execute("drop schema if exists bench cascade")
        conn.execute("create schema bench")
        cols = ", ".join(f"{c.name} {c.type}" for c in spec.columns)
        conn.execute(f"create table bench.starlink_copy ({cols})")

    # Each way replaces what the previous run of it loaded, so every run loads the same n rows.
    project = timed(lambda: ingest.load(ctx, "starlink", ds), runs)
    copy = (
        f"\\copy bench.starlink_copy ({', '.join(spec.column_names)}) from '{csv_path}' with (format csv, header true)"
    )
    psql = [psql_binary(), url, "-q", "-v", "ON_ERROR_STOP=1", "-c", "truncate bench.starlink_copy", "-c", copy]
    psql_copy = timed(lambda: subprocess.run(psql, check=True), runs)

    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    pandas = timed(
        lambda: pd.read_csv(csv_path).to_sql(
            "starlink_pandas", engine, schema="bench", if_exists="replace", index=False
        ),
        runs,
    )
    engine.dispose()

    with psycopg.connect(url) as conn:
        counts = [
            conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("raw.starlink", "bench.starlink_copy", "bench.starlink_pandas")
        ]
    assert counts == [n, n, n], f"row counts differ: {counts}"
    return {
        "rows": n,
        "runs": runs,
        "csv_mb": round(csv_path.stat().st_size / 1e6, 1),
        "to_csv_s": round(to_csv_s, 2),
        "project_s": project,
        "pandas_to_sql_s": pandas,
        "psql_copy_s": psql_copy,
        # >= 1.0: the project's load is at least as fast as psql \copy (medians, and the best runs)
        "vs_copy": {k: round(psql_copy[k] / project[k], 2) for k in ("min", "median")},
        "vs_pandas": {k: round(pandas[k] / project[k], 1) for k in ("min", "median")},
    }


def main() -> int:
    sizes = [int(x) for x in os.environ.get("BENCH_ROWS", "10000,100000,1000000").split(",")]
    runs = int(os.environ.get("BENCH_RUNS", "5"))
    settings = Settings.from_env()
    bench_dir = settings.data_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    server = None
    if os.environ.get("WAREHOUSE_URL"):
        warehouse = wh.Warehouse(os.environ["WAREHOUSE_URL"])
    else:  # an embedded PostgreSQL of its own, stopped at the end (wh.start_embedded's outlives us)
        import pgserver

        server = pgserver.get_server(bench_dir / "warehouse", cleanup_mode="stop")
        warehouse = wh.Warehouse(wh.embedded_url(bench_dir / "warehouse"))
    results = []
    try:
        with tempfile.TemporaryDirectory(dir=bench_dir) as tmp:
            workdir = Path(tmp)
            ctx = Context(
                # DATASETS=starlink: the ds is whole with that one dataset, so each load also publishes it
                # (the project's load path as `starlink42k load` runs it: COPY, analyze, swap in).
                Settings.from_env(
                    {
                        **os.environ,
                        "LAKE_URL": (workdir / "lake").as_uri(),
                        "DATA_DIR": str(settings.data_dir),
                        "DATASETS": "starlink",
                    }
                ),
                _warehouse=warehouse,
            )
            for n in sizes:
                print(f"benchmarking {n:,} rows, {runs} runs each ...", file=sys.stderr, flush=True)
                results.append(run_one(n, ctx, warehouse.url, workdir, runs))
    finally:
        if server is not None:
            server.cleanup()
    print(f"seconds, min / median of {runs} runs; vs: how many times faster the project's load is")
    columns = ("rows", "MB", "project", "psql \\copy", "pandas to_sql", "vs copy", "vs to_sql")
    print(" ".join(f"{c:>{w}}" for c, w in zip(columns, (10, 6, 15, 15, 15, 11, 11), strict=True)))
    for r in results:
        cell = lambda t: f"{t['min']:.3f}/{t['median']:.3f}"  # noqa: E731
        print(
            f"{r['rows']:>10,} {r['csv_mb']:>6} {cell(r['project_s']):>15} {cell(r['psql_copy_s']):>15} "
            f"{cell(r['pandas_to_sql_s']):>15} {r['vs_copy']['min']:>5}/{r['vs_copy']['median']:<5} "
            f"{r['vs_pandas']['min']:>5}/{r['vs_pandas']['median']:<5}"
        )
    out = bench_dir / "load.json"
    out.write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(), "results": results}, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
