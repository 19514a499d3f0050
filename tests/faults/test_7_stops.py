"""Stops: SIGTERM (Airflow's on_kill deleting the pod, a timeout) and SIGINT (Ctrl-C) in the middle of a
step's longest statement.

A stopped step stops its work: it cancels its statement in flight (psycopg cancels it on the
interrupt; the transaction rolls back), stops dbt (one SIGINT: dbt terminates its own sessions; SIGKILL
after DBT_STOP_SECONDS), and exits 128+signal within seconds. Afterwards no session of the run (the
CLI's `starlink42k`, dbt's `dbt`) is left in the warehouse, readers see only committed data, and the
rerun takes every lock at once (its lock waits are cut to 2 s: FAULT_LOCK_WAIT) and gives the
identical answer. A long dbt model is a copy of the project with one slow model added (pg_sleep);
a COPY in flight is the curated CSV turned into a FIFO the case feeds by hand.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from fault_stack import REPO, Stack, Watched, dbt_sessions, invariants, pending, start_watched, wait_for
from kill_support import DS, Baseline, backends, baseline, with_injection

from starlink42k import warehouse as wh

# A stopped step exits within this (dbt gets DBT_STOP_SECONDS to cancel its statements; a loaded
# machine needs some room), and leaves no session 10 s after that.
EXIT_SECONDS = 25
GONE_SECONDS = 10
RERUN_LOCK_WAIT = "2"
SLOW_MODEL = "int_zz_slow_for_a_stop"
PUBLISH = ("publish", "--ds", DS)  # one dataset reloaded: published beside the published rest of DS


@pytest.fixture(scope="module")
def base(tmp_path_factory, pg_server: str, api_docs: dict, satcat_records: list[dict]) -> Iterator[Baseline]:
    with baseline(tmp_path_factory.mktemp("stops"), pg_server, api_docs, satcat_records) as b:
        yield b


@pytest.fixture(scope="module")
def slow_project(tmp_path_factory) -> Path:
    """The dbt project plus one model that sleeps 10 minutes after the satellites are reconciled."""
    project = tmp_path_factory.mktemp("dbt") / "dbt"
    shutil.copytree(REPO / "dbt", project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    (project / "models" / "intermediate" / f"{SLOW_MODEL}.sql").write_text(
        "select count(*) as satellites from {{ ref('int_satellites__reconciled') }}, pg_sleep(600)\n"
    )
    return project


def run_sessions(url: str) -> list[str]:
    """The sessions of a run in the stack's database: the CLI's and dbt's."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """select application_name, state, left(query, 80) from pg_stat_activity
               where datname = current_database() and pid <> pg_backend_pid()
                 and (application_name = 'starlink42k' or application_name like 'dbt%')"""
        ).fetchall()
    return [f"{app} ({state}): {query}" for app, state, query in rows]


def stop(proc: Watched, sig: signal.Signals, url: str) -> dict[str, float]:
    """Send ``sig``; the step must exit 128+sig within EXIT_SECONDS, its sessions be gone GONE_SECONDS later."""
    started = time.monotonic()
    proc.proc.send_signal(sig)
    try:
        code = proc.wait(EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        proc.proc.kill()
        raise AssertionError(f"not gone {EXIT_SECONDS}s after {sig.name}: {proc.stderr()[-3000:]}") from None
    exited = time.monotonic() - started
    assert code == 128 + sig, f"exit {code}: {proc.stderr()[-3000:]}"
    assert f"stopped by {sig.name}" in proc.stderr()
    wait_for(lambda: run_sessions(url) == [], GONE_SECONDS)
    timings = {"exited_s": round(exited, 2), "sessions_gone_s": round(time.monotonic() - started, 2)}
    print(f"{sig.name}: exited after {timings['exited_s']}s, no session left after {timings['sessions_gone_s']}s")
    return timings


def assert_rerun_without_waiting(base: Baseline, *steps: tuple[str, ...]) -> None:
    """Each step succeeds with every lock wait cut to RERUN_LOCK_WAIT seconds (a lock still held by
    the stopped step would fail it, naming what it waited for); the answer is the good run's."""
    stack = base.stack
    for step in steps:
        done = stack.run(*step, **with_injection(stack.env, FAULT_LOCK_WAIT=RERUN_LOCK_WAIT))
        assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
    assert stack.answer_facts(DS) == base.answer
    assert stack.leftovers() == []
    base.assert_intact()


def dbt_processes(stack: Stack) -> list[str]:
    target = str(Path(stack.env["DATA_DIR"]) / "dbt" / "target")
    found = subprocess.run(["pgrep", "-af", target], capture_output=True, text=True).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


def start_in_slow_model(stack: Stack, project: Path, *args: str) -> Watched:
    """Start a step whose dbt build reaches SLOW_MODEL; return once its statement runs."""
    proc = start_watched(stack, *args, DBT_PROJECT_DIR=str(project))
    wait_for(lambda: dbt_sleeping(stack.warehouse_url) or proc.proc.poll() is not None, 300)
    assert proc.proc.poll() is None, proc.stderr()[-3000:]
    return proc


def dbt_sleeping(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            """select count(*) > 0 from pg_stat_activity where datname = current_database()
               and application_name like 'dbt%%' and state = 'active' and query like %s""",
            (f"%{SLOW_MODEL}%pg_sleep%",),
        ).fetchone()[0]


@pytest.mark.fault("Stops", "run: SIGTERM in the middle of a long dbt model: dbt cancels it, no session left")
def test_sigterm_run_in_a_long_dbt_model(base: Baseline, slow_project: Path) -> None:
    stack = base.stack
    proc = start_in_slow_model(stack, slow_project, "run", "--ds", DS)
    stop(proc, signal.SIGTERM, stack.warehouse_url)
    assert proc.seen("dbt.stop")
    assert dbt_sessions(stack.warehouse_url) == [] and dbt_processes(stack) == []
    assert invariants(stack) == []
    assert_rerun_without_waiting(base, ("run", "--ds", DS))


@pytest.mark.fault("Stops", "transform: SIGINT (Ctrl-C) in the middle of a long dbt model: the same")
def test_sigint_transform_in_a_long_dbt_model(base: Baseline, slow_project: Path) -> None:
    stack = base.stack
    proc = start_in_slow_model(stack, slow_project, "transform", "--ds", DS)
    stop(proc, signal.SIGINT, stack.warehouse_url)
    assert dbt_sessions(stack.warehouse_url) == [] and dbt_processes(stack) == []
    assert invariants(stack) == []
    assert_rerun_without_waiting(base, ("transform", "--ds", DS), ("report", "--ds", DS))


@contextmanager
def copy_in_flight(stack: Stack, dataset: str, source: str = "spacex") -> Iterator[Watched]:
    """`load <dataset>` with half its CSV sent: the curated CSV is a FIFO fed by hand; yields the
    process once its COPY is active in the warehouse."""
    csv = stack.lake_dir / f"curated/{source}/{dataset}/ds={DS}/{dataset}.csv"
    aside = csv.with_name(f"{dataset}.csv.aside")
    data = csv.read_bytes()
    os.rename(csv, aside)
    os.mkfifo(csv)
    fd = None
    try:
        proc = start_watched(stack, "load", dataset, "--ds", DS)

        def opened() -> bool:
            nonlocal fd
            try:
                fd = os.open(csv, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                return proc.proc.poll() is not None
            return True

        wait_for(opened, 120)
        assert fd is not None, proc.stderr()[-3000:]
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        os.write(fd, data[: len(data) // 2])
        wait_for(lambda: backends(stack.warehouse_url, query_like="copy %") == 1 or proc.proc.poll() is not None, 60)
        assert proc.proc.poll() is None, proc.stderr()[-3000:]
        yield proc
    finally:
        if fd is not None:
            os.close(fd)
        csv.unlink()
        os.rename(aside, csv)


@pytest.mark.fault("Stops", "load: SIGTERM inside the COPY (half the CSV sent): rolled back, no session left")
def test_sigterm_load_inside_copy(base: Baseline) -> None:
    """The load's one transaction rolls back: no pending table or record of it is left. A load of one
    dataset of a published ds stays unpublished (publish.py), so the rerun publishes it beside the
    published rest of DS before the transform, as an operator's reload does."""
    stack = base.stack
    with copy_in_flight(stack, "starlink") as proc:
        stop(proc, signal.SIGTERM, stack.warehouse_url)
    base.assert_intact()
    assert pending(stack.warehouse_url) == []  # neither its raw.load_pending row nor its __pending table
    rerun = [("load", "starlink", "--ds", DS), PUBLISH, ("transform", "--ds", DS), ("report", "--ds", DS)]
    assert_rerun_without_waiting(base, *rerun)


@pytest.mark.fault("Stops", "run: SIGTERM while it waits for another run's lock: it stops waiting, at once")
def test_sigterm_while_waiting_for_a_lock(base: Baseline) -> None:
    stack = base.stack
    holder = psycopg.connect(stack.warehouse_url, autocommit=True)
    try:
        holder.execute("select pg_advisory_lock(hashtext(%s), hashtext(%s))", (wh.RUN_LOCK, DS))
        proc = start_watched(stack, "run", "--ds", DS)
        wait_for(lambda: backends(stack.warehouse_url, wait_event="advisory") == 1 or proc.proc.poll() is not None, 120)
        assert proc.proc.poll() is None, proc.stderr()[-3000:]
        timings = stop(proc, signal.SIGTERM, stack.warehouse_url)
        assert timings["exited_s"] < 5
    finally:
        holder.close()
    base.assert_intact()
