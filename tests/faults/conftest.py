"""The fault and abuse suite: `make faults`, and part of `make test`.

Every case breaks the pipeline the way production does, then asserts two things: the exact state of
the lake and the warehouse afterwards (``state.py``: the previous ds intact byte for byte and row for
row, no temp files, no orphan partitions or tables), and that a clean rerun gives the identical answer.

Every test carries ``@pytest.mark.fault(kind, case)``. The session writes what ran and what held to
``build/faults/results.json``; ``scripts/reliability_table.py`` turns that file into the README's
"Reliability" table, so the table is the suite's own output, not typed by hand.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_stack import Stack

from starlink42k.settings import variable_names
from support import satcat_docs as sc
from support.replay import ScriptedReplay

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "build" / "faults" / "results.json"
# The fault classes, in the order of the README table.
KINDS = ("Sources", "Kills", "Infrastructure", "Concurrency", "Bad input and abuse", "Secrets")

_outcomes: dict[str, dict[str, str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("fault")
    if marker is None:
        return
    kind, case = marker.args
    assert kind in KINDS, f"{item.nodeid}: fault kind {kind!r} is not one of {KINDS}"
    entry = _outcomes.setdefault(item.nodeid, {"kind": kind, "case": case, "outcome": "passed"})
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the results of the fault cases that ran (none ran: nothing is written)."""
    if not _outcomes:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    cases = [{"test": nodeid, **entry} for nodeid, entry in sorted(_outcomes.items())]
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps({"kinds": list(KINDS), "cases": cases}, indent=1) + "\n")
    os.replace(tmp, RESULTS)


@pytest.fixture(scope="session")
def satcat_records(api_docs: dict[str, list[dict]]) -> list[dict]:
    """The replay's satellites as CelesTrak lists them."""
    return [
        sc.record(t["NORAD_CAT_ID"], t["OBJECT_ID"], t["LAUNCH_DATE"], decay_date=t["DECAY_DATE"])
        for t in (d["spaceTrack"] for d in api_docs["starlink"])
    ]


@pytest.fixture
def stack(
    tmp_path: Path, warehouse_url: str, api_docs: dict[str, list[dict]], satcat_records: list[dict]
) -> Iterator[Stack]:
    """The pipeline CLI as a subprocess against a scripted replay (SpaceX and CelesTrak), a local
    lake in tmp_path and a fresh test database. ``stack.run("run", "--ds", DS)``; ``stack.snapshot()``."""
    with ScriptedReplay(spacex=api_docs, satcat=satcat_records) as replay:
        env = {k: v for k, v in os.environ.items() if k not in variable_names()}
        env.update(
            DATA_DIR=str(tmp_path / "data"),
            LAKE_URL=(tmp_path / "lake").as_uri(),
            WAREHOUSE_URL=warehouse_url,
            SPACEX_API_URL=replay.spacex_url,
            CELESTRAK_URL=replay.url,
            DBT_PROJECT_DIR=str(REPO / "dbt"),
            SPACEX_PAGE_SIZE="100",
            HTTP_BACKOFF_SECONDS="0.01",
            HTTP_TIMEOUT="5",
        )
        yield Stack(env=env, lake_dir=tmp_path / "lake", warehouse_url=warehouse_url, replay=replay)
