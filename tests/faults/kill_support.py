"""The baseline the kill, infrastructure and concurrency cases share: one stack per test module with two
good runs (the previous ds and the ds the cases break), and what each case compares with afterwards."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fault_stack import (
    Stack,
    invariants,
    new_database,
    protected,
    stack_env,
    start_watched,
    warehouse_tables,
)

from support.replay import ScriptedReplay

PREVIOUS = "2024-01-30"  # the good ds every case must leave intact
DS = "2024-01-31"  # the ds the cases kill, break and rerun
INJECT = str(Path(__file__).parent / "inject")  # sitecustomize.py: FAULT_FSYNC_MATCH


@dataclass
class Baseline:
    stack: Stack
    answer: dict[str, Any]  # answer_facts(DS) of the good run
    previous_answer: bytes  # answer.json of PREVIOUS, byte for byte
    guarded: dict[str, Any]  # protected(stack, DS): what no run of DS may change
    seconds: dict[str, float] = field(default_factory=dict)  # measured phases of a good run of DS

    def assert_intact(self) -> None:
        """Readers see only complete data, and the previous ds is exactly as it was."""
        assert invariants(self.stack) == []
        assert protected(self.stack, DS) == self.guarded
        if self.previous_answer:
            assert self.stack.answer(PREVIOUS) == self.previous_answer

    def committed(self) -> dict[str, Any]:
        """DS as readers of the warehouse and the report see it: every raw table row for row (the
        load log with it; not the loads waiting to be published, which no reader sees) and DS's
        answer.json byte for byte. A step that fails before its ds is published leaves all of it."""
        tables = warehouse_tables(self.stack.warehouse_url)
        seen = {k: v for k, v in tables.items() if k.startswith("raw.") and not unpublished(k)}
        return {"raw": seen, "answer": self.stack.answer(DS)}

    def assert_rerun(self, *steps: tuple[str, ...]) -> None:
        """Each step (CLI args) succeeds; then the answer is the good run's, nothing is left over."""
        for step in steps:
            done = self.stack.run(*step)
            assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
        assert self.stack.answer_facts(DS) == self.answer
        assert self.stack.leftovers() == []
        self.assert_intact()


def unpublished(table: str) -> bool:
    """The bookkeeping of loads not published yet: raw.load_pending and its `__pending` tables."""
    return table == "raw.load_pending" or table.endswith("__pending")


def with_injection(env: dict[str, str], **faults: str) -> dict[str, str]:
    """The env of a CLI process that gets the fault-injection sitecustomize."""
    path = os.pathsep.join(p for p in (INJECT, env.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **faults}


@contextmanager
def baseline(
    root: Path,
    server_url: str,
    api_docs: dict,
    satcat: list[dict],
    *,
    url: str | None = None,
    previous: bool = True,
    stack_class: type[Stack] = Stack,
    **env: str,
):
    """A stack under ``root`` (its own database on ``server_url``, or ``url``), with PREVIOUS (unless
    ``previous=False``: the cases then break reruns of DS, and DS's committed state is what must hold)
    and DS run."""
    warehouse_url = url or new_database(server_url)
    with ScriptedReplay(spacex=api_docs, satcat=satcat) as replay:
        stack = stack_class(
            env={**stack_env(root, warehouse_url, replay), **env},
            lake_dir=root / "lake",
            warehouse_url=warehouse_url,
            replay=replay,
        )
        if previous:
            first = stack.run("run", "--ds", PREVIOUS)
            assert first.returncode == 0, first.stderr[-3000:]
        started = time.monotonic()
        good = start_watched(stack, "run", "--ds", DS)
        assert good.wait(600) == 0, good.stderr()[-3000:]
        seconds = {
            "run": time.monotonic() - started,
            "started": min(t for t, _ in good.events),  # the CLI is up (imports done): its first event
            "first_load": min(t for t, e in good.events if e.get("event") == "load.start"),
            "loaded": good.at("publish.done"),  # the last load, and the ds published
            "transform": good.at("transform.done") - good.at("publish.done"),
        }
        try:
            yield Baseline(
                stack=stack,
                answer=stack.answer_facts(DS),
                previous_answer=stack.answer(PREVIOUS) if previous else b"",
                guarded=protected(stack, DS),
                seconds=seconds,
            )
        finally:
            stack.stop_all()


def backends(url: str, *, query_like: str = "%", wait_event: str | None = None) -> int:
    """The pipeline's sessions (application_name starlink42k) running ``query_like``, waiting on
    ``wait_event`` if given (``advisory``; ``Lock``: any heavyweight lock)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(
            """select count(*) from pg_stat_activity where application_name = 'starlink42k'
               and query ilike %s and (%s::text is null or %s in (wait_event, wait_event_type))""",
            (query_like, wait_event, wait_event),
        ).fetchone()[0]


@contextmanager
def holding(url: str, *statements: str) -> Iterator[Any]:
    """A session of the case's own that runs ``statements`` in one transaction, left open for the
    block: the locks they take hold the pipeline where it needs them; they go at the end."""
    import psycopg

    conn = psycopg.connect(url)
    try:
        for statement in statements:
            conn.execute(statement)
        yield conn
    finally:
        with suppress(Exception):
            conn.close()


@contextmanager
def load_held_at_upsert(stack: Stack, dataset: str, ds: str):
    """Start `load <dataset> --ds <ds>` and hold it inside its transaction after its pending table is
    swapped in, blocked on its raw.load_pending upsert; yields the process. No hook in the code: a
    second session holds ds's raw.load_pending row (inserting it, uncommitted, if there is none),
    which the load's upsert then waits for."""
    import psycopg
    from fault_stack import wait_for

    blocker = psycopg.connect(stack.warehouse_url)
    try:
        blocker.execute(
            """insert into raw.load_pending (dataset, ds, rows, sha256, source_uri) values (%s, %s, 0, '', '')
               on conflict do nothing""",
            (dataset, ds),
        )
        blocker.execute("select * from raw.load_pending where dataset = %s and ds = %s for update", (dataset, ds))
        proc = stack.start("load", dataset, "--ds", ds)
        upsert = "%insert into raw.load_pending%"
        held = lambda: backends(stack.warehouse_url, query_like=upsert, wait_event="Lock") == 1  # noqa: E731
        wait_for(lambda: held() or proc.poll() is not None, 120)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        yield proc
    finally:
        with suppress(Exception):  # the server may be down (the PostgreSQL-stopped case)
            blocker.close()
