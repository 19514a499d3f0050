"""Benchmark: `dbt build` of the whole project at real size and at a scaled size over a year of snapshots.

    make bench BENCH=dbt                # real size + 42,000 satellites x 365 daily snapshots
    BENCH_DAYS=30 make bench BENCH=dbt  # a shorter history (BENCH_SATELLITES, BENCH_RUNS likewise)

real size   the bundled sample data (205 launches, 3,655 SpaceX satellites, 12,037 SATCAT records), one ds
scaled      42,000 satellites in both sources and 1,400 launches; the same snapshot loaded for 365
            consecutive ds. dbt is timed on day 1 (one snapshot in raw) and on day 365 (365 snapshots):
            staging reads one partition and the history model is incremental, so the two should match.
Every build is timed BENCH_RUNS times (default 3): the minimum and the median.
Results are printed and written to $DATA_DIR/bench/dbt.json. Not a test: numbers vary by machine
(tests/benchmarks/test_benchmarks.py runs it at a tiny size, so that it cannot rot).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pgserver
import psycopg

from starlink42k import ingest, transform
from starlink42k import lake as lakes
from starlink42k import warehouse as wh
from starlink42k.context import Context
from starlink42k.replay import SAMPLE_DIR, ReplayServer
from starlink42k.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import satcat_docs as sc
from support import spacex_docs as docs


def scaled_sources(satellites: int = 42_000, launches: int = 1_400) -> dict:
    """`launches` Starlink launches from 2019-05-24 every ~2 days, 30 satellites each, 3% decayed."""
    start = datetime(2019, 5, 24, 2, 30, tzinfo=UTC)
    api_launches, sats, cat = [], [], []
    per_launch = satellites // launches
    numbers: dict[int, int] = {}
    for i in range(launches):
        when = start + timedelta(hours=i * 50)
        numbers[when.year] = numbers.get(when.year, 0) + 1
        doc = docs.launch(i + 1, f"Starlink G{i}", when)
        api_launches.append(doc)
        for k in range(per_launch):
            norad = 44000 + i * per_launch + k
            cospar = f"{when.year}-{numbers[when.year]:03d}{chr(65 + k % 26)}{'' if k < 26 else chr(65 + k // 26)}"
            decay = (when + timedelta(days=400)).date().isoformat() if norad % 33 == 0 else None
            if decay and decay > "2026-11-20":
                decay = None
            sats.append(
                docs.starlink(
                    norad, cospar, when.date(), launch_id=doc["id"], decay_date=decay, epoch="2026-11-20 00:00:00"
                )
            )
            cat.append(sc.record(norad, cospar, when.date().isoformat(), decay_date=decay))
    return {"spacex": {"launches": api_launches, "starlink": sats}, "satcat": cat}


def timed_build(ctx: Context, ds: str) -> float:
    started = time.perf_counter()
    transform.transform(ctx, ds)
    return round(time.perf_counter() - started, 2)


def timed_builds(ctx: Context, ds: str, runs: int) -> dict[str, float]:
    """min and median of `runs` builds of ds (after the one that creates every relation)."""
    seconds = [timed_build(ctx, ds) for _ in range(runs)]
    return {"min": min(seconds), "median": statistics.median(seconds)}


def real_size(base_env: dict, workdir: Path, runs: int) -> dict:
    with ReplayServer.from_directory(SAMPLE_DIR) as server:
        env = {
            **base_env,
            "SPACEX_API_URL": server.spacex_url,
            "CELESTRAK_URL": server.url,
            "LAKE_URL": (workdir / "real-lake").as_uri(),
        }
        ctx = Context(Settings.from_env(env))
        for name in ctx.settings.datasets:
            ingest.extract(ctx, name, "2026-11-25")
            ingest.to_csv(ctx, name, "2026-11-25")
            ingest.load(ctx, name, "2026-11-25")
    timed_build(ctx, "2026-11-25")  # first build: creates every relation
    return {"dbt_build_s": timed_builds(ctx, "2026-11-25", runs)}


def scaled(base_env: dict, workdir: Path, days: int, satellites: int, runs: int) -> dict:
    sources = scaled_sources(satellites, max(1, satellites // 30))
    with ReplayServer(spacex=sources["spacex"], satcat=sources["satcat"]) as server:
        env = {
            **base_env,
            "SPACEX_API_URL": server.spacex_url,
            "CELESTRAK_URL": server.url,
            "LAKE_URL": (workdir / "scaled-lake").as_uri(),
            "SPACEX_PAGE_SIZE": "5000",
        }
        ctx = Context(Settings.from_env(env))
        first = date(2025, 11, 21)
        ds_list = [(first + timedelta(days=d)).isoformat() for d in range(days)]
        for name in ctx.settings.datasets:
            ingest.extract(ctx, name, ds_list[0])
            ingest.to_csv(ctx, name, ds_list[0])
            ingest.load(ctx, name, ds_list[0])
    timed_build(ctx, ds_list[0])  # first build: creates every relation
    build_day1 = timed_builds(ctx, ds_list[0], runs)
    started = time.perf_counter()
    for ds in ds_list[1:]:  # the same snapshot, once per day: what a year of daily runs leaves in raw
        for name in ctx.settings.datasets:
            spec_source = "celestrak" if name == "satcat" else "spacex"
            src = lakes.curated_key(spec_source, name, ds_list[0])
            manifest = lakes.read_manifest(ctx.lake, src, "")
            lakes.write_partition(
                ctx.lake,
                lakes.curated_key(spec_source, name, ds),
                ctx.lake.get_bytes(src),
                {k: v for k, v in manifest.items() if k not in ("sha256", "bytes", "object")},
                "text/csv",
            )
            ingest.load(ctx, name, ds)
    load_s = round(time.perf_counter() - started, 1)
    for ds in ds_list[1 : -1 : max(1, days // 6)]:  # a few runs in between fill the incremental history
        transform.transform(ctx, ds)
    build_last = timed_builds(ctx, ds_list[-1], runs)
    with psycopg.connect(ctx.warehouse.url) as conn:
        raw_rows = conn.execute("select count(*) from raw.starlink").fetchone()[0]
        history = conn.execute("select count(*) from marts.fct_constellation_daily").fetchone()[0]
    return {
        "days": days,
        "satellites": satellites,
        "raw_starlink_rows": raw_rows,
        "history_rows": history,
        "load_other_days_s": load_s,
        "dbt_build_day1_s": build_day1,
        f"dbt_build_day{days}_s": build_last,
        "ratio_last_vs_day1": {k: round(build_last[k] / build_day1[k], 2) for k in ("min", "median")},
    }


def main() -> int:
    days = int(os.environ.get("BENCH_DAYS", "365"))
    satellites = int(os.environ.get("BENCH_SATELLITES", "42000"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    settings = Settings.from_env()
    bench_dir = settings.data_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(dir=bench_dir) as tmp:
        workdir = Path(tmp)
        for name, run in (
            ("real_size", lambda env: real_size(env, workdir, runs)),
            ("scaled", lambda env: scaled(env, workdir, days, satellites, runs)),
        ):
            # An embedded PostgreSQL of its own, stopped after (wh.start_embedded's outlives this process),
            # in a short path of its own: its socket's path must stay under 108 bytes.
            pgdata = Path(tempfile.mkdtemp(prefix=f"sl42k-{name}-")) / "pg"
            server = pgserver.get_server(pgdata, cleanup_mode="stop")
            url = wh.embedded_url(pgdata)
            env = {**os.environ, "DATA_DIR": str(workdir / name), "WAREHOUSE_URL": url}
            print(f"benchmarking dbt build: {name} ...", file=sys.stderr, flush=True)
            try:
                results[name] = run(env)
            finally:
                server.cleanup()
                shutil.rmtree(pgdata.parent, ignore_errors=True)
    print(json.dumps(results, indent=2))
    (bench_dir / "dbt.json").write_text(json.dumps(results, indent=2))
    print(f"written to {bench_dir / 'dbt.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
