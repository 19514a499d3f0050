"""``starlink42k``: one command per pipeline step, and ``run`` for all of them in order.

This is the extractor image's entrypoint: Airflow runs ``starlink42k <step> --ds {{ ds }}`` in a
pod; ``make run`` runs ``starlink42k run``. Logs go to stderr, the answer to stdout.
Exit codes: 0 done, 1 the pipeline failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime

from . import __version__, steps
from . import log as logs
from .errors import PipelineError
from .settings import ALL_DATASETS, VARIABLES, Settings

logger = logs.get_logger("cli")


def _ds(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ds {value!r} is not a date (YYYY-MM-DD)") from None


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


# --- commands ------------------------------------------------------------------------------------


def cmd_extract(ctx: steps.Context, args: argparse.Namespace) -> int:
    steps.extract(ctx, args.dataset, args.ds)
    return 0


def cmd_to_csv(ctx: steps.Context, args: argparse.Namespace) -> int:
    steps.to_csv(ctx, args.dataset, args.ds)
    return 0


def cmd_load(ctx: steps.Context, args: argparse.Namespace) -> int:
    steps.load(ctx, args.dataset, args.ds)
    return 0


def cmd_transform(ctx: steps.Context, args: argparse.Namespace) -> int:
    from .transform import transform

    transform(ctx, args.ds)
    return 0


def cmd_report(ctx: steps.Context, args: argparse.Namespace) -> int:
    from .report import report, summary_text

    answer = report(ctx, args.ds)
    print(summary_text(answer))
    files = answer["files"]
    print(f"\nanswer: {files['answer.json']}\nchart:  {files['chart.png']}\nreport: {files['report.md']}")
    return 0


def cmd_backtest(ctx: steps.Context, args: argparse.Namespace) -> int:
    from .report import backtest_text
    from .transform import dbt

    extra: dict[str, object] = {"backtest_cutoff": args.cutoff} if args.cutoff else {}
    if args.horizon:
        extra["backtest_horizon_months"] = args.horizon
    dbt(ctx, "build", "--select", "int_backtest_inputs+", ds=args.ds, extra_vars=extra)
    print(backtest_text(ctx))
    return 0


def run_pipeline(ctx: steps.Context, ds: str) -> int:
    """Every step in order. All sources are fetched before anything is written, so an unreachable
    source leaves the lake and the warehouse untouched for this ds."""
    names = ctx.settings.datasets
    started = time.perf_counter()
    snapshots = [steps.fetch(ctx, name) for name in names]
    for snap in snapshots:
        steps.write_raw(ctx, snap, ds)
    for name in names:
        steps.to_csv(ctx, name, ds)
    for name in names:
        steps.load(ctx, name, ds)
    step_args = argparse.Namespace(ds=ds)
    cmd_transform(ctx, step_args)
    cmd_report(ctx, step_args)
    seconds = time.perf_counter() - started
    logs.event(logger, "run.done", f"pipeline finished in {seconds:.1f}s", ds=ds, datasets=",".join(names))
    if ctx.warehouse.embedded:
        print(f"warehouse: psql '{ctx.warehouse.url}'")
        print("  (the embedded PostgreSQL keeps running for psql; `make stop` stops it)")
    return 0


def cmd_run(ctx: steps.Context, args: argparse.Namespace) -> int:
    return run_pipeline(ctx, args.ds)


def cmd_demo(ctx: steps.Context, args: argparse.Namespace) -> int:
    """The whole pipeline on the bundled sample data, served from loopback, into its own embedded
    warehouse and local lake under $DATA_DIR/demo: nothing of a real run is touched."""
    from .replay import SAMPLE_DIR, ReplayServer

    demo_dir = ctx.settings.data_dir / "demo"
    with ReplayServer.from_directory(SAMPLE_DIR) as server:
        logs.event(logger, "demo.replay", f"serving sample data from {SAMPLE_DIR.name}/ at {server.url}")
        settings = Settings.from_env(
            {
                **os.environ,
                "SPACEX_API_URL": server.spacex_url,
                "CELESTRAK_URL": server.url,
                "DATA_DIR": str(demo_dir),
                "LAKE_URL": (demo_dir / "lake").as_uri(),
                "WAREHOUSE_URL": "",
                "DATASETS": ",".join(ALL_DATASETS),
                "SAMPLE_DATA": "1",
            }
        )
        return run_pipeline(steps.Context(settings), args.ds)


def cmd_publish_docs(ctx: steps.Context, args: argparse.Namespace) -> int:
    from pathlib import Path

    from .transform import publish_docs

    source = Path(args.source or os.environ.get("DBT_TARGET_PATH") or ctx.settings.data_dir / "dbt" / "target")
    publish_docs(ctx.lake, source)
    return 0


def cmd_replay(ctx: steps.Context, args: argparse.Namespace) -> int:
    from pathlib import Path

    from .replay import SAMPLE_DIR, serve

    serve(Path(args.data) if args.data else SAMPLE_DIR, args.host, args.port)
    return 0


def cmd_warehouse(ctx: steps.Context, args: argparse.Namespace) -> int:
    from . import warehouse as wh

    pgdata = ctx.settings.data_dir / "warehouse"
    if args.action == "stop":
        stopped = wh.stop_embedded(pgdata)
        print(f"stopped the embedded warehouse in {pgdata}" if stopped else f"no embedded warehouse runs in {pgdata}")
        return 0
    w = ctx.warehouse
    print(w.display_url())
    if w.embedded:
        print(f"connect with: psql '{w.url}'", file=sys.stderr)
    return 0


# --- parser --------------------------------------------------------------------------------------


def _add_ds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ds", type=_ds, default=None, help="logical date YYYY-MM-DD (default: today, UTC)")


def _add_dataset(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "dataset_pos",
        nargs="?",
        metavar="DATASET",
        choices=("launches", "starlink", "satcat"),
        help="launches | starlink | satcat",
    )
    p.add_argument("--dataset", choices=("launches", "starlink", "satcat"), help="same as DATASET")


def build_parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {k:<28} {d}  (default: {v})" for k, (v, d) in VARIABLES.items())
    parser = argparse.ArgumentParser(
        prog="starlink42k",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="When will there be 42,000 Starlink satellites in orbit, and how many launches will it take?",
        epilog=f"configuration (environment variables):\n{env_help}",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logs")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--log-format", choices=("text", "json"), help="default: LOG_FORMAT, else auto")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable, help_: str, dataset: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        if dataset:
            _add_dataset(p)
        _add_ds(p)
        p.set_defaults(func=func, needs_dataset=dataset)
        return p

    command("extract", cmd_extract, "fetch one dataset from its API into the lake (raw JSON)", True)
    command("to-csv", cmd_to_csv, "turn one dataset's raw JSON into a typed CSV (curated)", True)
    command("load", cmd_load, "load one dataset's CSV into the warehouse (raw.<dataset>, one ds)", True)
    command("transform", cmd_transform, "build the dbt project (staging, intermediate, marts) for one ds")
    command("report", cmd_report, "write answer.json, the chart and the report; print the answer")
    command("run", cmd_run, "run every step in order for every dataset, and print the answer")
    command("demo", cmd_demo, "run the whole pipeline on bundled sample data (no network needed)")
    bp = command("backtest", cmd_backtest, "fit the forecast at an earlier cut-off and compare with the data")
    bp.add_argument("--cutoff", type=_ds, help="fit on data up to this date (default: as-of minus horizon)")
    bp.add_argument("--horizon", type=int, help="months between cut-off and check (default 12)")
    pd = sub.add_parser("publish-docs", help="copy dbt docs (index.html, manifest, catalog) to <lake>/dbt-docs/")
    pd.add_argument(
        "--from", dest="source", help="dbt's target folder (default: $DBT_TARGET_PATH, else $DATA_DIR/dbt/target)"
    )
    pd.set_defaults(func=cmd_publish_docs, needs_dataset=False, ds=None)
    rp = sub.add_parser("replay", help="serve sample API responses on loopback (for demos and tests)")
    rp.add_argument("--data", default=None, help="folder of spacex_*.json[.gz] / celestrak_satcat.json[.gz]")
    rp.add_argument("--host", default="127.0.0.1")
    rp.add_argument("--port", type=int, default=8000)
    rp.set_defaults(func=cmd_replay, needs_dataset=False, ds=None)
    wp = command("warehouse", cmd_warehouse, "print the warehouse URL (starting the embedded one), or stop it")
    wp.add_argument("action", nargs="?", choices=("url", "stop"), default="url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "needs_dataset", False):
        if args.dataset and args.dataset_pos and args.dataset != args.dataset_pos:
            parser.error(f"two different datasets given: {args.dataset_pos} and --dataset {args.dataset}")
        args.dataset = args.dataset or args.dataset_pos
        if not args.dataset:
            parser.error(f"{args.command} needs a dataset: launches, starlink or satcat")
    args.ds = args.ds or today_utc()
    logs.configure(verbosity=-1 if args.quiet else (1 if args.verbose else 0), fmt=args.log_format)
    try:
        ctx = steps.Context(Settings.from_env())
        return args.func(ctx, args)
    except PipelineError as exc:
        logs.event(logger, "error", str(exc).splitlines()[0], level=40, command=args.command)
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
