"""The fault and abuse suite: `make faults`, and part of `make test-slow`.

Every case breaks the pipeline the way production does, then asserts two things: the exact state of
the lake and the warehouse afterwards (``fault_stack.py``: the previous ds intact byte for byte and row for
row, no temp files, no orphan partitions or tables), and that a clean rerun gives the identical answer.

Every test carries ``@pytest.mark.fault(kind, case)``. The session writes what ran and what held to
``build/faults/results.json``; ``scripts/reliability_table.py`` turns that file into the README's
"Reliability" table, so the table is the suite's own output, not typed by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fault_checks import GoodRun
from fault_stack import Stack, stack_env

from support import satcat_docs as sc
from support.golden import database
from support.replay import ScriptedReplay

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "build" / "faults" / "results.json"
# The fault classes, in the order of the README table.
KINDS = ("Sources", "Kills", "Stops", "Infrastructure", "Concurrency", "Bad input and abuse", "Secrets")

_outcomes: dict[str, dict[str, str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """The case's fault marker travels with its reports (to pytest-xdist's controller too)."""
    outcome = yield
    marker = item.get_closest_marker("fault")
    if marker is not None:
        kind, case = marker.args
        assert kind in KINDS, f"{item.nodeid}: fault kind {kind!r} is not one of {KINDS}"
        outcome.get_result().user_properties.append(("fault", (kind, case)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    fault = dict(report.user_properties).get("fault")
    if fault is None:
        return
    kind, case = fault
    entry = _outcomes.setdefault(report.nodeid, {"kind": kind, "case": case, "outcome": "passed"})
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the results of the fault cases that ran (none ran: nothing is written); under
    pytest-xdist only the controller, which sees every worker's reports, writes them."""
    helpers = sys.modules.get("airflow_helpers")  # the pod-spec case imported it: its AIRFLOW_HOME
    if helpers is not None:
        shutil.rmtree(helpers.AIRFLOW_HOME, ignore_errors=True)
    if not _outcomes or hasattr(session.config, "workerinput"):
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
        env = stack_env(tmp_path, warehouse_url, replay)
        yield Stack(env=env, lake_dir=tmp_path / "lake", warehouse_url=warehouse_url, replay=replay)


# --- one stack per module, with one good run, for the cases that fail before anything is written --


@pytest.fixture(scope="module")
def stack_spacex_docs(api_docs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The SpaceX documents a module's stack serves (a module overrides this to serve its own)."""
    return api_docs


@pytest.fixture(scope="module")
def stack_satcat_records(satcat_records: list[dict]) -> list[dict]:
    """The CelesTrak records a module's stack serves (a module overrides this to serve its own)."""
    return satcat_records


@pytest.fixture(scope="module")
def stack_password() -> str | None:
    """A password the module's stack puts into its WAREHOUSE_URL (the test server trusts local
    connections, so any password works); a module overrides this to follow one through a run."""
    return None


@pytest.fixture(scope="module")
def good_run_args() -> tuple[str, ...]:
    """Options before the command of the module's good run (e.g. ``-v``, ``--log-format json``)."""
    return ()


@pytest.fixture(scope="module")
def module_stack(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: str,
    stack_spacex_docs: dict[str, list[dict]],
    stack_satcat_records: list[dict],
    stack_password: str | None,
) -> Iterator[Stack]:
    """A stack shared by the cases of one module (its own database, lake and replay)."""
    tmp_path = tmp_path_factory.mktemp("stack")
    with (
        database(pg_server, prefix="t") as url,
        ScriptedReplay(spacex=stack_spacex_docs, satcat=stack_satcat_records) as replay,
    ):
        env = stack_env(tmp_path, url, replay)
        if stack_password:
            env["WAREHOUSE_URL"] = url.replace("postgresql://postgres@", f"postgresql://postgres:{stack_password}@")
            assert stack_password in env["WAREHOUSE_URL"]
        yield Stack(env=env, lake_dir=tmp_path / "lake", warehouse_url=url, replay=replay)


GOOD_DS = "2024-01-31"


@pytest.fixture(scope="module")
def good_run(module_stack: Stack, good_run_args: tuple[str, ...]) -> GoodRun:
    """One clean ``run --ds 2024-01-31`` on the module's stack, before its cases."""
    result = module_stack.run(*good_run_args, "run", "--ds", GOOD_DS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert module_stack.leftovers() == []
    return GoodRun(GOOD_DS, module_stack.answer_facts(GOOD_DS), module_stack.snapshot(), result.stdout, result.stderr)


@pytest.fixture
def ran(module_stack: Stack, good_run: GoodRun) -> Iterator[Stack]:
    """The module's stack after its good run, with no fault queued and an empty request log."""
    module_stack.replay.clear_faults()
    module_stack.replay.requests.clear()
    yield module_stack
    module_stack.replay.clear_faults()
