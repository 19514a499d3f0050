"""Concurrency: two runs of one ds at once, two ds at once, a load racing a transform, and a step that
finds a lock held for good.

What holds them apart (warehouse.py, advisory locks, which go with the session of a killed process):
`run` holds a lock per ds from its first write to its report, so a second run of that ds waits, then
redoes it (runs are idempotent per ds); a transform holds the marts lock exclusively (in `run`, until its
report is written), loads and reports share it; one dbt at a time per DATA_DIR (an flock on its
target/). Every wait is bounded (warehouse.LOCK_WAIT_SECONDS): past it the step ends with a message
naming what it waited for. The result must be one consistent ds each time, every process done within a
bounded time.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from fault_stack import Watched, invariants, start_watched, wait_for
from kill_support import DS, PREVIOUS, Baseline, baseline, with_injection

RUN = ("run", "--ds", DS)


@pytest.fixture(scope="module")
def base(tmp_path_factory, pg_server: str, api_docs: dict, satcat_records: list[dict]) -> Iterator[Baseline]:
    with baseline(tmp_path_factory.mktemp("races"), pg_server, api_docs, satcat_records, previous=False) as b:
        yield b


def bound(base: Baseline, runs: float) -> float:
    """How long ``runs`` runs one after the other may take here, with room for a loaded machine."""
    return 60 + 3 * runs * base.seconds["run"]


def advisory_waiters(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            """select count(*) from pg_stat_activity
               where application_name = 'starlink42k' and wait_event = 'advisory'"""
        ).fetchone()[0]


def emitted(proc: Watched, name: str, *, first: bool = False) -> datetime:
    """When ``proc`` wrote its last (``first``: first) event ``name``: the record's own timestamp
    (milliseconds, the clock every process shares), not when the case read it."""
    return (min if first else max)(datetime.fromisoformat(e["ts"]) for _, e in proc.events if e.get("event") == name)


def assert_consistent(base: Baseline) -> None:
    assert invariants(base.stack) == []
    assert base.stack.leftovers() == []
    assert base.stack.answer_facts(DS) == base.answer


@pytest.mark.fault("Concurrency", "two `run`s of the same ds at once: the second waits, both end 0, one answer")
def test_two_runs_of_one_ds(base: Baseline) -> None:
    stack = base.stack
    first, second = start_watched(stack, *RUN), start_watched(stack, *RUN)
    deadline = bound(base, 2)
    started = time.monotonic()
    assert first.wait(deadline) == 0, first.stderr()[-3000:]
    assert second.wait(max(deadline - (time.monotonic() - started), 1)) == 0, second.stderr()[-3000:]
    # never both writing: the one that finished first was done loading before the other began to write
    # (by when each wrote its line: the first's report.done before it releases the run lock, the
    # second's first extract.written after it takes it)
    a, b = sorted((first, second), key=lambda w: emitted(w, "run.done"))
    assert emitted(a, "report.done") <= emitted(b, "extract.written", first=True)
    assert_consistent(base)


@pytest.mark.fault("Concurrency", "two ds at once: both end 0, each answer built from its own ds's marts")
def test_two_ds_at_once(base: Baseline) -> None:
    stack = base.stack
    runs = [start_watched(stack, "run", "--ds", PREVIOUS), start_watched(stack, *RUN)]
    deadline = time.monotonic() + bound(base, 2)
    for proc in runs:
        assert proc.wait(max(deadline - time.monotonic(), 1)) == 0, proc.stderr()[-3000:]
    assert_consistent(base)
    previous = json.loads(stack.answer(PREVIOUS))
    assert previous["ds"] == PREVIOUS
    # its report read the marts its own transform built (snapshots of PREVIOUS), not the other run's
    assert {s["snapshot_ds"] for s in previous["sources"]} == {PREVIOUS}


@pytest.mark.fault(
    "Concurrency", "load racing transform: the load goes on (no reader sees it), publishing waits for the marts"
)
def test_load_racing_transform(base: Baseline) -> None:
    stack = base.stack
    transform = start_watched(stack, "transform", "--ds", DS)
    wait_for(lambda: any("OK created" in line for line in transform.lines) or transform.proc.poll() is not None, 300)
    assert transform.proc.poll() is None, transform.stderr()[-3000:]
    load = start_watched(stack, "load", "starlink", "--ds", DS)
    wait_for(lambda: advisory_waiters(stack.warehouse_url) >= 1 or load.proc.poll() is not None, 60)
    assert transform.wait(bound(base, 1)) == 0, transform.stderr()[-3000:]
    assert load.wait(bound(base, 1)) == 0, load.stderr()[-3000:]
    # the load committed its pending table while dbt ran; its attempt to publish waited for the transform.
    # By when each process wrote its line (the clock they share), not when the case read it: dbt's last
    # line is written before the transform releases the marts lock, its transform.done after.
    dbt_finished = emitted(transform, "dbt.output")
    assert emitted(load, "load.done") < dbt_finished
    assert emitted(load, "publish.waiting") >= dbt_finished
    for step in (("publish", "--ds", DS), ("transform", "--ds", DS), ("report", "--ds", DS)):
        done = stack.run(*step)
        assert done.returncode == 0, done.stderr[-3000:]
    assert_consistent(base)


@pytest.mark.fault("Concurrency", "a lock held for good (a stuck transform): the waiter gives up, clear message")
def test_bounded_wait(base: Baseline) -> None:
    stack = base.stack
    with psycopg.connect(stack.warehouse_url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(hashtext('starlink42k.marts'), hashtext(''))")
        started = time.monotonic()
        done = stack.run("report", "--ds", DS, timeout=120, **with_injection(stack.env, FAULT_LOCK_WAIT="3"))
        waited = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]
    assert re.search(r"error: waited \d+s for another transform \(dbt build of the marts\) to finish", done.stderr)
    assert waited < 60
    assert_consistent(base)


NEXT = "2024-02-01"  # a new ds, after DS


def observe(conn: psycopg.Connection, lake: Path, datasets: tuple[str, ...]) -> dict:
    """What a reader sees of NEXT, in one snapshot of the warehouse: the snapshot each dataset's reader
    reads (the newest published on or before NEXT: staging's rule) and whether its rows are all there;
    every ds of raw.load_log (status and the dashboard read it) and how many datasets it has; the marts'
    record of what they were built from beside what dim_data_sources says; then NEXT's answer.json."""
    with conn.transaction():
        picks = {}
        for name in datasets:
            snapshot, rows = conn.execute(
                "select ds, rows from raw.load_log where dataset = %s and ds <= %s order by ds desc limit 1",
                (name, NEXT),
            ).fetchone()
            count = conn.execute(f"select count(*) from raw.{name} where ds = %s", (snapshot,)).fetchone()[0]
            picks[name] = (str(snapshot), count == rows)
        per_ds = dict(conn.execute("select ds::text, count(*) from raw.load_log group by 1").fetchall())
        built = conn.execute("select snapshots from marts.marts_build").fetchone()
        sources = dict(conn.execute("select source_name, snapshot_ds::text from marts.dim_data_sources").fetchall())
    answer = lake / f"reports/starlink/ds={NEXT}/answer.json"
    body = json.loads(answer.read_bytes()) if answer.exists() else None
    return {"picks": picks, "per_ds": per_ds, "built": built[0] if built else None, "sources": sources, "answer": body}


def partial(seen: dict, datasets: tuple[str, ...]) -> list[str]:
    problems = []
    if len({snapshot for snapshot, _ in seen["picks"].values()}) != 1:
        problems.append(f"the datasets read different ds: {seen['picks']}")
    problems += [
        f"{name}: rows missing for ds {snapshot}" for name, (snapshot, whole) in seen["picks"].items() if not whole
    ]
    problems += [f"ds {ds} in raw.load_log has {n} datasets" for ds, n in seen["per_ds"].items() if n != len(datasets)]
    if seen["built"] is not None:  # the marts, when they say what they hold, hold exactly that
        reads = {"spacex_api": "starlink", "celestrak_satcat": "satcat"}
        problems += [
            f"marts.dim_data_sources reads {reads[s]} {ds}, marts_build says {seen['built'][reads[s]]['snapshot_ds']}"
            for s, ds in seen["sources"].items()
            if seen["built"][reads[s]]["snapshot_ds"] != ds
        ]
    if seen["answer"] is not None and {s["snapshot_ds"] for s in seen["answer"]["sources"]} != {NEXT}:
        problems.append(f"answer.json of {NEXT} reads {[s['snapshot_ds'] for s in seen['answer']['sources']]}")
    return problems


@pytest.mark.fault(
    "Concurrency",
    "a reader polling the warehouse and the lake during a run of a new ds: the previous ds whole, then the new ds "
    "whole, never a mix",
)
def test_a_reader_sees_one_whole_ds_at_a_time(base: Baseline) -> None:
    stack = base.stack
    conn = psycopg.connect(stack.warehouse_url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    observed = []
    try:
        run = start_watched(stack, "run", "--ds", NEXT)
        while run.proc.poll() is None:
            observed.append(observe(conn, stack.lake_dir, stack.datasets))
        assert run.wait(60) == 0, run.stderr()[-3000:]
        observed.append(observe(conn, stack.lake_dir, stack.datasets))
    finally:
        conn.close()
    problems = [p for seen in observed for p in partial(seen, stack.datasets)]
    assert problems == [], problems[:10]
    # what the readers read: DS (the newest published before NEXT), then NEXT, never back
    sequence = [next(iter(seen["picks"].values()))[0] for seen in observed]
    changes = [a for a, b in zip([None, *sequence], sequence, strict=False) if a != b]
    assert changes == [None, DS], f"{len(observed)} observations: {sequence[:3]} ... {sequence[-3:]}"
    assert sequence[0] == DS and sequence[-1] == NEXT
    answers = [seen["answer"] is not None for seen in observed]
    assert answers == sorted(answers) and answers[-1]  # absent, then there for good
    print(f"reader: {len(observed)} observations, {sequence.count(DS)} of {DS}, {sequence.count(NEXT)} of {NEXT}")
    assert_consistent(base)
