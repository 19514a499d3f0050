"""Benchmark: the project's load path vs pandas ``to_sql`` vs ``psql \\copy``, side by side.

    make bench                     # N = 10,000 / 100,000 / 1,000,000
    make bench BENCH_ROWS=50000    # one size

For each N it writes N synthetic starlink-shaped rows through the real ``to-csv`` writer into a
local lake, then loads the same CSV three ways into the same PostgreSQL:
  project  ``ingest.load``: stream from the lake, COPY into a new partition, swap it in (one tx)
  pandas   ``pd.read_csv`` + ``DataFrame.to_sql(if_exists="append")``, what most pipelines do
  \\copy   ``psql \\copy`` of the file into a plain table: the client-side limit
Results are printed and written to ``$DATA_DIR/bench/load.json``. Not a test: numbers vary by machine.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
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


def run_one(n: int, ctx: Context, url: str, workdir: Path) -> dict:
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
    size_mb = csv_path.stat().st_size / 1e6

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
        conn.execute("drop schema if exists bench cascade")
        conn.execute("create schema bench")
        cols = ", ".join(f"{c} {t}" for c, t in spec.columns)
        conn.execute(f"create table bench.starlink_copy ({cols})")

    t = time.perf_counter()
    ingest.load(ctx, "starlink", ds)
    project_s = time.perf_counter() - t

    t = time.perf_counter()
    copy = (
        f"\\copy bench.starlink_copy ({', '.join(spec.column_names)}) from '{csv_path}' with (format csv, header true)"
    )
    subprocess.run([psql_binary(), url, "-q", "-v", "ON_ERROR_STOP=1", "-c", copy], check=True)
    copy_s = time.perf_counter() - t

    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    t = time.perf_counter()
    frame = pd.read_csv(csv_path)
    frame.to_sql("starlink_pandas", engine, schema="bench", if_exists="append", index=False)
    pandas_s = time.perf_counter() - t
    engine.dispose()

    with psycopg.connect(url) as conn:
        counts = [
            conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("raw.starlink", "bench.starlink_copy", "bench.starlink_pandas")
        ]
    assert counts == [n, n, n], f"row counts differ: {counts}"
    return {
        "rows": n,
        "csv_mb": round(size_mb, 1),
        "to_csv_s": round(to_csv_s, 2),
        "project_s": round(project_s, 3),
        "pandas_to_sql_s": round(pandas_s, 3),
        "psql_copy_s": round(copy_s, 3),
        "project_rows_per_s": round(n / project_s),
        "pandas_rows_per_s": round(n / pandas_s),
        "copy_rows_per_s": round(n / copy_s),
        "speedup_vs_pandas": round(pandas_s / project_s, 1),
        "ratio_vs_copy": round(project_s / copy_s, 2),
    }


def main() -> int:
    sizes = [int(x) for x in os.environ.get("BENCH_ROWS", "10000,100000,1000000").split(",")]
    settings = Settings.from_env()
    bench_dir = settings.data_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    warehouse = (
        wh.Warehouse(os.environ["WAREHOUSE_URL"])
        if os.environ.get("WAREHOUSE_URL")
        else wh.start_embedded(bench_dir / "warehouse")
    )
    results = []
    with tempfile.TemporaryDirectory(dir=bench_dir) as tmp:
        workdir = Path(tmp)
        ctx = Context(
            Settings.from_env(
                {**os.environ, "LAKE_URL": (workdir / "lake").as_uri(), "DATA_DIR": str(settings.data_dir)}
            ),
            _warehouse=warehouse,
        )
        for n in sizes:
            print(f"benchmarking {n:,} rows ...", file=sys.stderr, flush=True)
            results.append(run_one(n, ctx, warehouse.url, workdir))
    print(
        f"{'rows':>10} {'MB':>6} {'project rows/s':>15} {'to_sql rows/s':>14} {'psql copy/s':>13} "
        f"{'vs to_sql':>9} {'vs copy':>9}"
    )
    for r in results:
        print(
            f"{r['rows']:>10,} {r['csv_mb']:>6} {r['project_rows_per_s']:>15,} {r['pandas_rows_per_s']:>14,} "
            f"{r['copy_rows_per_s']:>13,} {r['speedup_vs_pandas']:>8}x {r['ratio_vs_copy']:>8}x"
        )
    out = bench_dir / "load.json"
    out.write_text(json.dumps({"machine": os.uname().nodename, "cpus": os.cpu_count(), "results": results}, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
