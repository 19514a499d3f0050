"""Kills: SIGKILL at every step, then at many seeded random moments of a run.

A SIGKILL runs no handler, no ``finally``: what it leaves is what a lost node or the OOM killer leaves.
After each kill the previous ds must be intact byte for byte and row for row, every reader must find
only complete, committed data (``fault_stack.invariants``), and a clean rerun must give the identical
answer with nothing left over.

What a killed process leaves, and who sweeps it: a lake write in progress leaves its temporary file
(`.<name>.<host>-<pid>.<random>.tmp`, invisible to readers and listings); the next write into that
folder removes it, its writer being gone (lake.py ``_sweep_stale``). A load in progress leaves nothing:
it is one transaction, which PostgreSQL rolls back when the connection drops; a backend waiting for a
lock notices its client is gone within ``warehouse.CLIENT_CHECK_MS``. A killed transform takes its
dbt with it (PR_SET_PDEATHSIG), and a table dbt was swapping in is rolled back; a `__dbt_backup`
left between dbt's commit and its drop is dropped by the next build.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_stack import dbt_sessions, invariants, pending_state, protected, start_watched, wait_for
from kill_support import DS, PREVIOUS, Baseline, backends, baseline, holding, load_held_at_upsert, with_injection

REPO = Path(__file__).resolve().parents[2]
TAG = DS.replace("-", "")
RANDOM_SEED = 20240131
RANDOM_POINTS = 50
REPORT = ("report", "--ds", DS)
TRANSFORM = ("transform", "--ds", DS)
PUBLISH = ("publish", "--ds", DS)  # one dataset reloaded: published beside the published rest of DS


@pytest.fixture(scope="module")
def base(tmp_path_factory, pg_server: str, api_docs: dict, satcat_records: list[dict]) -> Iterator[Baseline]:
    with baseline(tmp_path_factory.mktemp("kills"), pg_server, api_docs, satcat_records) as b:
        yield b


def tmp_files(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.tmp")) if folder.is_dir() else []


def kill_mid_write(base: Baseline, folder: str, name: str, *args: str) -> None:
    """Run ``args`` with fsync of ``folder/name``'s temporary file hanging; SIGKILL it there: the temp
    file is written, the object not yet renamed into place."""
    stack = base.stack
    target = stack.lake_dir / folder
    proc = stack.start(*args, **with_injection(stack.env, FAULT_FSYNC_MATCH=f"{folder}/.{name}."))
    wait_for(lambda: bool(tmp_files(target)) or proc.poll() is not None, 120)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    stack.kill(proc)
    assert tmp_files(target), "the kill should have left the temporary file of the write in progress"


# --- one named point per step --------------------------------------------------------------------


@pytest.mark.fault("Kills", "extract: SIGKILL while the SpaceX API is still paging (nothing written yet)")
def test_kill_extract_mid_fetch(base: Baseline) -> None:
    from support.replay import Fault

    stack = base.stack
    before = len(stack.replay.requests)
    stack.replay.add_fault("/v4/starlink", Fault(), Fault(), Fault(delay=30))
    proc = stack.start("extract", "--dataset", "starlink", "--ds", DS)
    wait_for(lambda: len(stack.replay.requests) - before >= 3 or proc.poll() is not None, 120)
    stack.kill(proc)
    stack.replay.faults.clear()
    base.assert_intact()
    base.assert_rerun(
        ("extract", "--dataset", "starlink", "--ds", DS),
        ("to-csv", "starlink", "--ds", DS),
        ("load", "starlink", "--ds", DS),
        PUBLISH,
        TRANSFORM,
        REPORT,
    )


@pytest.mark.fault("Kills", "extract: SIGKILL mid-write of the raw object (temp file written, not renamed)")
def test_kill_extract_mid_write(base: Baseline) -> None:
    kill_mid_write(base, f"raw/spacex/starlink/ds={DS}", "starlink.json", "extract", "starlink", "--ds", DS)
    base.assert_intact()  # the partition has no manifest: readers refuse it rather than read half of it
    base.assert_rerun(("run", "--ds", DS))  # the rerun sweeps the dead writer's temp file


@pytest.mark.fault("Kills", "to-csv: SIGKILL mid-write of the curated CSV")
def test_kill_to_csv_mid_write(base: Baseline) -> None:
    kill_mid_write(base, f"curated/spacex/starlink/ds={DS}", "starlink.csv", "to-csv", "starlink", "--ds", DS)
    base.assert_intact()
    base.assert_rerun(("to-csv", "starlink", "--ds", DS), ("load", "starlink", "--ds", DS), PUBLISH, TRANSFORM, REPORT)


@pytest.mark.fault("Kills", "to-csv: SIGKILL leaves its scratch folder in TMPDIR; the next to-csv removes it")
def test_kill_to_csv_leaves_a_scratch_folder_the_next_one_sweeps(base: Baseline, tmp_path: Path) -> None:
    stack = base.stack
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    folder = f"curated/spacex/starlink/ds={DS}"
    hang = with_injection(stack.env, FAULT_FSYNC_MATCH=f"{folder}/.starlink.csv.")
    proc = stack.start("to-csv", "starlink", "--ds", DS, TMPDIR=str(scratch), **hang)
    wait_for(lambda: bool(tmp_files(stack.lake_dir / folder)) or proc.poll() is not None, 120)
    assert proc.poll() is None, proc.communicate()[1][-3000:]
    stack.kill(proc)
    (left,) = scratch.iterdir()  # no finally ran: the CSV it was writing is still there
    assert left.name.startswith("starlink42k-to-csv.") and f"-{proc.pid}." in left.name, left.name
    assert (left / "starlink.csv").is_file()
    base.assert_intact()
    done = stack.run("to-csv", "starlink", "--ds", DS, TMPDIR=str(scratch))
    assert done.returncode == 0, done.stderr[-3000:]
    assert list(scratch.iterdir()) == []  # the dead one's swept, its own removed
    base.assert_rerun(("load", "starlink", "--ds", DS), PUBLISH, TRANSFORM, REPORT)


@pytest.mark.fault("Kills", "load: SIGKILL inside the COPY (the CSV half sent)")
def test_kill_load_inside_copy(base: Baseline) -> None:
    """The curated CSV becomes a FIFO the case feeds by hand: it sends half the bytes, sees the COPY
    active in pg_stat_activity, and kills the load there."""
    stack = base.stack
    csv = stack.lake_dir / f"curated/spacex/starlink/ds={DS}/starlink.csv"
    aside = csv.with_name("starlink.csv.aside")
    data = csv.read_bytes()
    os.rename(csv, aside)
    os.mkfifo(csv)
    try:
        proc = stack.start("load", "starlink", "--ds", DS)
        fd = None

        def opened() -> bool:
            nonlocal fd
            try:
                fd = os.open(csv, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                return proc.poll() is not None
            return True

        wait_for(opened, 120)
        assert fd is not None, proc.communicate()[1][-3000:]
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        os.write(fd, data[: len(data) // 2])
        wait_for(lambda: backends(stack.warehouse_url, query_like="copy %") == 1, 60)
        stack.kill(proc)
        os.close(fd)
    finally:
        csv.unlink()
        os.rename(aside, csv)
    wait_for(lambda: backends(stack.warehouse_url, query_like="copy %") == 0, 30)
    base.assert_intact()
    base.assert_rerun(("load", "starlink", "--ds", DS), PUBLISH, TRANSFORM, REPORT)


@pytest.mark.fault("Kills", "load: SIGKILL between the pending table's swap and its raw.load_pending upsert")
def test_kill_load_between_swap_and_log(base: Baseline) -> None:
    """The load is held on its upsert (kill_support.load_held_at_upsert), the new pending table already
    swapped in within its transaction, and killed there. Its backend must notice and
    roll back while the lock is still held (client_connection_check_interval), not keep the table's
    locks until the blocker lets go."""
    stack = base.stack
    upsert = "%insert into raw.load_pending%"
    with load_held_at_upsert(stack, "starlink", DS) as proc:
        stack.kill(proc)
        wait_for(lambda: backends(stack.warehouse_url, query_like=upsert) == 0, 30)  # gone, the row still locked
    base.assert_intact()
    base.assert_rerun(("load", "starlink", "--ds", DS), PUBLISH, TRANSFORM, REPORT)


@pytest.mark.fault("Kills", "transform: SIGKILL during dbt build (dbt dies with it, no orphan)")
def test_kill_transform(base: Baseline) -> None:
    stack = base.stack
    proc = start_watched(stack, *TRANSFORM)
    built = lambda: sum("OK created" in line for line in proc.lines) >= 3  # noqa: E731
    wait_for(lambda: built() or proc.proc.poll() is not None, 300)
    assert proc.proc.poll() is None, proc.stderr()[-3000:]
    stack.kill(proc.proc)
    wait_for(lambda: dbt_sessions(stack.warehouse_url) == [], 30)  # dbt was killed with its parent
    base.assert_intact()
    base.assert_rerun(TRANSFORM, REPORT)


@pytest.mark.fault("Kills", "report: SIGKILL mid-write of the chart (no answer.json beside a new chart)")
def test_kill_report(base: Baseline) -> None:
    kill_mid_write(base, f"reports/starlink/ds={DS}", "chart.png", *REPORT)
    # answer.json commits the folder: it went first, so no reader finds it beside a chart being rewritten
    assert not (base.stack.lake_dir / f"reports/starlink/ds={DS}/answer.json").exists()
    base.assert_intact()
    base.assert_rerun(REPORT)


# --- between the first load and publishing ------------------------------------------------------------
# `run` held where the case wants it by a lock of the case's own session, then killed there. Every
# dataset loaded so far is kept unpublished; readers see DS as published before, row for row, and its
# answer.json byte for byte; the rerun completes and publishes what was kept.


def load_lock(dataset: str) -> str:
    return f"select pg_advisory_xact_lock(hashtext('starlink42k.load'), hashtext('{dataset}'))"


LOAD_WAIT, MARTS_WAIT = "%pg_advisory_xact_lock(%", "%pg_advisory_xact_lock_shared(%"
STATUS = ("status", "--json")
POINTS = [
    pytest.param(
        [load_lock("starlink")], LOAD_WAIT, "advisory", ["launches"], [("run", "--ds", DS)],
        marks=pytest.mark.fault("Kills", "run: SIGKILL after its first load (launches kept unpublished); the rerun "
                                         "publishes the ds whole"),
        id="after-first-load",
    ),
    pytest.param(
        [load_lock("satcat")], LOAD_WAIT, "advisory", ["launches", "starlink"],
        [("load", "satcat", "--ds", DS), TRANSFORM, REPORT],
        marks=pytest.mark.fault("Kills", "run: SIGKILL while the last load waits (launches, starlink kept "
                                         "unpublished); `load satcat` completes and publishes the ds"),
        id="last-load-waits",
    ),
    pytest.param(
        ["select pg_advisory_xact_lock(hashtext('starlink42k.marts'), hashtext(''))"], MARTS_WAIT, "advisory",
        ["launches", "satcat", "starlink"], [PUBLISH, TRANSFORM, REPORT],
        marks=pytest.mark.fault("Kills", "run: SIGKILL with every dataset loaded, publishing waiting for the "
                                         "marts; `publish` publishes them"),
        id="publish-waits",
    ),
    pytest.param(
        ["lock table raw.starlink in access share mode"], "drop table%", "Lock", ["launches", "satcat", "starlink"],
        [("run", "--ds", DS)],
        marks=pytest.mark.fault("Kills", "run: SIGKILL inside the publishing transaction (two of three partitions "
                                         "swapped): rolled back whole"),
        id="mid-publish",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("statements", "query", "wait_event", "kept", "rerun"), POINTS)
def test_kill_between_the_first_load_and_publishing(
    base: Baseline, statements: list[str], query: str, wait_event: str, kept: list[str], rerun: list[tuple]
) -> None:
    stack = base.stack
    before = base.committed()
    with holding(stack.warehouse_url, *statements):
        proc = start_watched(stack, "run", "--ds", DS)
        waiting = lambda: backends(stack.warehouse_url, query_like=query, wait_event=wait_event) == 1  # noqa: E731
        wait_for(lambda: waiting() or proc.proc.poll() is not None, 300)
        assert proc.proc.poll() is None, proc.stderr()[-3000:]
        stack.kill(proc.proc)
        wait_for(lambda: backends(stack.warehouse_url) == 0, 30)  # its backend noticed, rolled back
    assert base.committed() == before  # readers: DS as published before, its answer.json byte for byte
    base.assert_intact()
    assert pending_state(stack.warehouse_url) == {DS: kept}
    day = next(d for d in json.loads(stack.run(*STATUS).stdout)["ds"] if d["ds"] == DS)
    loaded = ", ".join(d for d in stack.datasets if d in kept)
    not_loaded = ", ".join(d for d in stack.datasets if d not in kept)
    assert day["unpublished"] == (
        f"ds {DS} stays as published before; loaded and unpublished: {loaded}"
        + (f"; not loaded: {not_loaded}" if not_loaded else "")
        + "; a rerun completes and publishes it"
    )
    base.assert_rerun(*rerun)


# --- many random points --------------------------------------------------------------------------


@pytest.mark.fault(
    "Kills",
    f"random: {RANDOM_POINTS} seeded SIGKILLs of `run` (mostly from extract to publishing), invariants after each",
)
def test_random_kills(base: Baseline) -> None:
    """SIGKILL `run --ds DS` at seeded random moments, in the times its good run took: six in ten from
    the CLI's first log line to publishing (extract, to-csv, load, publish), one in ten from there in
    the rest of the run (freshness, transform, report), three in ten from its first load's log line
    to publishing (a window of a fraction of a second: counted from that line, so that the kills land
    between the loads and publishing, whatever the start-up took).
    After each: invariants, previous ds intact. Each killed run is the rerun of the one before, so it
    must not fail before its kill (and a run that finishes before its kill must end 0); a last
    uninterrupted run gives the identical answer with nothing left over."""
    stack = base.stack
    rng = random.Random(RANDOM_SEED)
    up, loaded, whole = base.seconds["started"], base.seconds["loaded"], base.seconds["run"]
    first_load = base.seconds["first_load"]
    points: list[dict] = []
    started = time.monotonic()
    for i in range(RANDOM_POINTS):
        # from the CLI's first log line (interpreter start-up varies with the machine's load), or its first load's
        anchor, window = (
            (None, (loaded - up, whole - up))
            if i % 10 == 0
            else ("load.start", (0, (loaded - first_load) * 1.2))
            if i % 10 <= 3
            else (None, (0, (loaded - up) * 1.1))
        )
        delay = rng.uniform(*window)
        proc = start_watched(stack, "run", "--ds", DS)
        started_at = lambda: proc.seen(anchor) if anchor else bool(proc.events)  # noqa: E731, B023
        wait_for(lambda: started_at() or proc.proc.poll() is not None, 120)  # noqa: B023
        try:
            code = proc.wait(delay)
        except subprocess.TimeoutExpired:
            stack.kill(proc.proc)
            code = None
        last = proc.events[-1][1].get("event") if proc.events else "(starting)"
        assert code in (None, 0), f"point {i}: the rerun failed before its kill: {proc.stderr()[-3000:]}"
        problems = invariants(stack)
        if protected(stack, DS) != base.guarded:
            problems.append(f"ds {PREVIOUS} changed")
        kept = pending_state(stack.warehouse_url).get(DS, [])  # killed between its first load and publishing
        point = {"delay": round(delay, 3), "last_event": last, "finished": code == 0, "unpublished": kept}
        points.append({**point, "problems": problems})
    kills_seconds = time.monotonic() - started
    final = stack.run("run", "--ds", DS)
    assert final.returncode == 0, final.stderr[-3000:]
    partial = [p for p in points if p["problems"]]
    out = REPO / "build" / "faults" / "random_kills.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "seed": RANDOM_SEED,
        "points": len(points),
        "killed": sum(not p["finished"] for p in points),
        "partial_states": len(partial),
        "kept_unpublished": sum(bool(p["unpublished"]) for p in points),
        "seconds": round(kills_seconds, 1),
        "window_seconds": {
            "started": round(up, 2),
            "first_load": round(first_load, 2),
            "loaded": round(loaded, 2),
            "run": round(whole, 2),
        },
        "cases": points,
    }
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"random kills: {len(partial)} partial states out of {len(points)} points ({kills_seconds:.0f}s)")
    assert partial == []
    assert stack.answer_facts(DS) == base.answer
    assert stack.leftovers() == []
    base.assert_intact()
