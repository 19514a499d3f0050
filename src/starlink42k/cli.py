"""``starlink42k``: one command per pipeline step, and ``run`` for all of them in order.

This is the pipeline image's entrypoint, and the only contract between Airflow and the pipeline:
Airflow runs ``starlink42k <step> --ds {{ ds }}`` in a pod, or as a local process; ``make run``
runs ``starlink42k run``. Logs go to stderr, the answer to stdout.
Exit codes: 0 done, 1 the pipeline failed (the message says why), 2 bad usage.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from . import __version__, pipeline
from . import log as logs
from .answer import Answer
from .context import Context
from .datasets import NAMES as DATASETS
from .errors import PipelineError, Stopped
from .render import summary_text
from .settings import Settings, settings

logger = logs.get_logger("cli")


# The dates a ds may be: from the first satellite to far beyond any forecast (and far from the end
# of Python's and dbt's calendars, where ds + 1 day would overflow).
DS_RANGE = (date(1957, 10, 4), date(2999, 12, 31))


def _ds(value: str) -> str:
    """A calendar date spelled YYYY-MM-DD, exactly: it names partitions, files and rows."""
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value[:80]!r} is not a date (YYYY-MM-DD)") from None
    if not DS_RANGE[0] <= day <= DS_RANGE[1]:
        low, high = (d.isoformat() for d in DS_RANGE)
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD) between {low} and {high}")
    return day.isoformat()


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value[:80]!r} is not a whole number of 1 or more")
    return number


def today_utc() -> str:
    return datetime.now(UTC).date().isoformat()


def print_answer(answer: Answer) -> None:
    print(summary_text(answer))
    files = answer.files
    print(f"\nanswer: {files['answer.json']}\nchart:  {files['chart.png']}\nreport: {files['report.md']}")


def print_warehouse(ctx: Context) -> None:
    if ctx.warehouse.embedded:
        print(f"warehouse: psql '{ctx.warehouse.url}'")
        print("  (the embedded PostgreSQL keeps running for psql; `make stop` stops it)")


# --- commands: each maps the parsed arguments onto one pipeline function ---------------------------


def cmd_extract(ctx: Context, args: argparse.Namespace) -> None:
    pipeline.extract(ctx, args.dataset, args.ds)


def cmd_to_csv(ctx: Context, args: argparse.Namespace) -> None:
    pipeline.to_csv(ctx, args.dataset, args.ds)


def cmd_load(ctx: Context, args: argparse.Namespace) -> None:
    pipeline.load(ctx, args.dataset, args.ds)


def cmd_publish(ctx: Context, args: argparse.Namespace) -> None:
    from .publish import describe

    state = pipeline.publish(ctx, args.ds, keep_published=True)
    missing = [d for d in state.not_loaded if d not in state.published]
    if state.pending and missing:
        raise PipelineError(
            f"{describe(state)}: publishing it would leave {', '.join(missing)} out; load "
            f"{'them' if len(missing) > 1 else 'it'} first (`starlink42k load <dataset> --ds {args.ds}`)"
        )
    if state.pending:
        print(f"ds {args.ds} published: {', '.join(state.pending)}")
    else:
        print(f"ds {args.ds}: nothing to publish (no dataset of {','.join(state.datasets)} is loaded and unpublished)")


def cmd_freshness(ctx: Context, args: argparse.Namespace) -> None:
    results = pipeline.freshness(ctx, args.ds, args.source and Path(args.source), fail_on_error=args.fail_on_error)
    for f in results:
        print(f"{f.status:<13} {f.describe(args.ds)}")


def cmd_transform(ctx: Context, args: argparse.Namespace) -> None:
    pipeline.transform(ctx, args.ds)


def cmd_report(ctx: Context, args: argparse.Namespace) -> None:
    print_answer(pipeline.report(ctx, args.ds))


def cmd_run(ctx: Context, args: argparse.Namespace) -> None:
    print_answer(pipeline.run(ctx, args.ds, allow_stale=args.allow_stale))
    print_warehouse(ctx)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> None:
    demo_ctx, answer = pipeline.demo(ctx.settings, args.ds)
    print_answer(answer)
    print_warehouse(demo_ctx)


def cmd_backtest(ctx: Context, args: argparse.Namespace) -> None:
    print(pipeline.backtest(ctx, args.ds, args.cutoff, args.horizon))


def cmd_publish_docs(ctx: Context, args: argparse.Namespace) -> None:
    source = args.source or os.environ.get("DBT_TARGET_PATH") or ctx.settings.data_dir / "dbt" / "target"
    pipeline.publish_docs(ctx.lake, Path(source))


def cmd_replay(ctx: Context, args: argparse.Namespace) -> None:
    from .replay import SAMPLE_DIR, serve

    serve(Path(args.data) if args.data else SAMPLE_DIR, args.host, args.port)


def cmd_warehouse(ctx: Context, args: argparse.Namespace) -> None:
    from . import warehouse as wh

    if args.action == "stop":  # the embedded servers of `run` and of `demo`
        for pgdata in (ctx.settings.data_dir / "warehouse", pipeline.demo_dir(ctx.settings) / "warehouse"):
            stopped = wh.stop_embedded(pgdata)
            print(f"stopped the embedded warehouse in {pgdata}" if stopped else f"none runs in {pgdata}")
        return
    w = ctx.warehouse
    if args.action == "dbt-env":  # for tools that run dbt against it (the local Airflow mode)
        print(json.dumps(w.dbt_env()))
        return
    print(w.display_url())
    if w.embedded:
        print(f"connect with: psql '{w.url}'", file=sys.stderr)


def cmd_status(ctx: Context, args: argparse.Namespace) -> None:
    from . import status

    if args.demo:  # the demo's own embedded warehouse, under $DATA_DIR/demo
        ctx = Context(
            Settings.from_env({**os.environ, "DATA_DIR": str(pipeline.demo_dir(ctx.settings)), "WAREHOUSE_URL": ""})
        )
    print(status.show(ctx, args.last, args.json))


def cmd_backup(ctx: Context, args: argparse.Namespace) -> None:
    from . import backup

    print(f"backup: {backup.backup(ctx, Path(args.to) if args.to else None)}")


def cmd_restore(ctx: Context, args: argparse.Namespace) -> None:
    from . import backup

    used = backup.restore(ctx, Path(args.source) if args.source else None, force=args.force)
    print(
        f"restored: {used}\n  (the marts are those of the last ds transformed then; for another ds's answer: "
        "`starlink42k transform --ds <ds>`, then `starlink42k report --ds <ds>`)"
    )


def cmd_config(ctx: Context, args: argparse.Namespace) -> None:
    values = ctx.settings.effective()
    if args.name:
        if args.name not in values:
            raise PipelineError(f"{args.name} is not a setting; choose from {', '.join(values)}")
        print(values[args.name])
        return
    for name, value in values.items():
        print(f"{name}={value}")


# --- parser --------------------------------------------------------------------------------------


def _add_ds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ds", type=_ds, default=None, help="logical date YYYY-MM-DD (default: today, UTC)")


def _add_dataset(p: argparse.ArgumentParser) -> None:
    names = " | ".join(DATASETS)
    p.add_argument("dataset_pos", nargs="?", metavar="DATASET", choices=DATASETS, help=names)
    p.add_argument("--dataset", choices=DATASETS, help="same as DATASET")


def build_parser() -> argparse.ArgumentParser:
    env_help = "\n".join(f"  {s.name:<24} {s.help}  (default: {s.documented_default})" for s in settings())
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

    def command(
        name: str, func: Callable, help_: str, *, dataset: bool = False, ds: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        if dataset:
            _add_dataset(p)
        if ds:
            _add_ds(p)
        p.set_defaults(func=func, needs_dataset=dataset, ds=None)
        return p

    command("extract", cmd_extract, "fetch one dataset from its API into the lake (raw JSON)", dataset=True)
    command("to-csv", cmd_to_csv, "turn one dataset's raw JSON into a typed CSV (curated)", dataset=True)
    command(
        "load",
        cmd_load,
        "load one dataset's CSV into the warehouse (raw.<dataset>, one ds); publishes the ds once all of "
        "DATASETS are loaded for it",
        dataset=True,
    )
    command(
        "publish",
        cmd_publish,
        "publish the datasets of a ds that are loaded and unpublished, beside the published rest of that ds",
    )
    fp = command("freshness", cmd_freshness, "check the sources' freshness as of ds (dbt source freshness) and keep it")
    fp.add_argument(
        "--from", dest="source", help="dbt's sources.json to read instead of running dbt (the cluster's pod)"
    )
    fp.add_argument("--fail-on-error", action="store_true", help="exit 1 when a source is past its error threshold")
    command("transform", cmd_transform, "build the dbt project (staging, intermediate, marts) for one ds")
    command("report", cmd_report, "write answer.json, the chart and the report; print the answer")
    rn = command("run", cmd_run, "run every step in order for every dataset, and print the answer")
    rn.add_argument(
        "--allow-stale",
        action="store_true",
        help="answer even when a source is past its error threshold (the answer says it is stale); "
        "without it the run stops at the freshness check, as the DAG's gate does",
    )
    command("demo", cmd_demo, "run the whole pipeline on bundled sample data (no network needed)")
    bp = command(
        "backtest",
        cmd_backtest,
        "the rolling-origin backtest as of ds: the forecast refitted at each month end, checked against the data",
    )
    bp.add_argument("--cutoff", type=_ds, help="also fit on data to this date (with --horizon alone: as-of minus it)")
    bp.add_argument("--horizon", type=_positive, help="months between that cut-off and its check (default 12)")
    pd = command(
        "publish-docs", cmd_publish_docs, "copy dbt docs (index.html, manifest, catalog) to <lake>/dbt-docs/", ds=False
    )
    pd.add_argument(
        "--from", dest="source", help="dbt's target folder (default: $DBT_TARGET_PATH, else $DATA_DIR/dbt/target)"
    )
    rp = command("replay", cmd_replay, "serve sample API responses on loopback (for demos and tests)", ds=False)
    rp.add_argument("--data", default=None, help="folder of spacex_*.json[.gz] / celestrak_satcat.json[.gz]")
    rp.add_argument("--host", default="127.0.0.1")
    rp.add_argument("--port", type=_positive, default=8000)
    wp = command(
        "warehouse",
        cmd_warehouse,
        "print the warehouse URL (starting the embedded one), dbt's connection variables as JSON, "
        "or stop the embedded ones (of run and demo)",
        ds=False,
    )
    wp.add_argument("action", nargs="?", choices=("url", "dbt-env", "stop"), default="url")
    sp = command(
        "status", cmd_status, "per ds: records fetched, rejected, loaded, and the answer (warehouse)", ds=False
    )
    sp.add_argument("--last", type=_positive, default=10, help="how many ds, newest first (default 10)")
    sp.add_argument("--json", action="store_true", help="JSON for machines")
    sp.add_argument("--demo", action="store_true", help="read the warehouse of `make demo`")
    bk = command("backup", cmd_backup, "copy the local lake and pg_dump the warehouse to $DATA_DIR/backups/", ds=False)
    bk.add_argument("--to", help="folder of backups (default: $DATA_DIR/backups)")
    rs = command("restore", cmd_restore, "restore the lake and the warehouse from the newest backup", ds=False)
    rs.add_argument("--from", dest="source", help="a backup, or a folder of backups (default: $DATA_DIR/backups)")
    rs.add_argument("--force", action="store_true", help="replace a lake or warehouse that holds data")
    cp = command("config", cmd_config, "print each setting as this run would use it (no credentials)", ds=False)
    cp.add_argument("name", nargs="?", help="print this one setting's value only, e.g. LAKE_URL")
    return parser


# Where the one-line reason of a failure goes for the orchestrator: a file Airflow's local operator
# names, else Kubernetes' termination log (the pod's termination message, in the task's failure).
TERMINATION_LOG = Path("/dev/termination-log")


def record_error(line: str) -> None:
    path = os.environ.get("STARLINK42K_ERROR_FILE") or (TERMINATION_LOG if TERMINATION_LOG.exists() else None)
    if path:
        with contextlib.suppress(OSError):  # best effort: the message is in the log anyway
            Path(path).write_text(line + "\n")


def _stop(signum: int, frame: object) -> None:
    """SIGTERM / SIGINT: stop the step where it is. Once: a second signal must not cut short the
    cleanup the first one starts (cancelling statements, stopping dbt); SIGKILL still ends it all."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    raise Stopped(signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.needs_dataset:
        if args.dataset and args.dataset_pos and args.dataset != args.dataset_pos:
            parser.error(f"two different datasets given: {args.dataset_pos} and --dataset {args.dataset}")
        args.dataset = args.dataset or args.dataset_pos
        if not args.dataset:
            parser.error(f"{args.command} needs a dataset: {', '.join(DATASETS)}")
    args.ds = args.ds or today_utc()
    logs.configure(verbosity=-1 if args.quiet else (1 if args.verbose else 0), fmt=args.log_format)
    with stop_on_signals():
        return _run(args)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGINT stop the command (``_stop``), also where they were ignored (a process started
    in the background; PID 1 in a container, which gets no default action); the caller's handlers
    come back afterwards (main() called in-process, by tests)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: argparse.Namespace) -> int:
    try:
        args.func(Context(Settings.from_env()), args)
    except PipelineError as exc:
        logs.event(logger, "error", str(exc).splitlines()[0], level=40, command=args.command)
        print(f"\nerror: {exc}", file=sys.stderr)
        record_error(str(exc).splitlines()[0])
        return 1
    except OSError as exc:  # the filesystem refused (permissions, a full disk, a read-only lake)
        where = f": {exc.filename}" if exc.filename else ""
        message = f"{exc.strerror or exc}{where} ({type(exc).__name__}); the step stopped there"
        logs.event(logger, "error", message, level=40, command=args.command)
        print(f"\nerror: {message}", file=sys.stderr)
        record_error(message)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        name = signal.Signals(signum).name
        message = f"stopped by {name}: the warehouse statements in flight were cancelled, nothing is half-written"
        logs.event(logger, "stopped", message, level=30, command=args.command, signal=name)
        print(f"\n{message}", file=sys.stderr)
        record_error(message)
        return 128 + signum
    except BrokenPipeError:  # `starlink42k config | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
