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

import psycopg
import pytest
from fault_stack import invariants, start_watched, wait_for
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
    a, b = sorted((first, second), key=lambda w: w.started + w.at("run.done"))
    assert a.started + a.at("report.done") <= b.started + min(t for t, e in b.events if e["event"] == "extract.written")
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


@pytest.mark.fault("Concurrency", "load racing transform: the load waits for the marts, then both end 0")
def test_load_racing_transform(base: Baseline) -> None:
    stack = base.stack
    transform = start_watched(stack, "transform", "--ds", DS)
    wait_for(lambda: any("OK created" in line for line in transform.lines) or transform.proc.poll() is not None, 300)
    assert transform.proc.poll() is None, transform.stderr()[-3000:]
    load = start_watched(stack, "load", "starlink", "--ds", DS)
    wait_for(lambda: advisory_waiters(stack.warehouse_url) >= 1 or load.proc.poll() is not None, 60)
    assert transform.wait(bound(base, 1)) == 0, transform.stderr()[-3000:]
    assert load.wait(bound(base, 1)) == 0, load.stderr()[-3000:]
    # the load committed after dbt had finished reading raw: it waited for the transform
    assert load.started + load.at("load.done") >= transform.started + transform.at("transform.done")
    for step in (("transform", "--ds", DS), ("report", "--ds", DS)):
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
