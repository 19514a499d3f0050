"""A whole `starlink42k run`, made once and read by many tests (the golden run, tests/conftest.py).

A run costs 10-15 s of real dbt; tests that only read what a run leaves (answer.json, the chart, the
marts) share one instead of each making its own. They must not write to it: a test that changes a
setting or runs again makes its own run (``pipeline_env``).
"""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from starlink42k import cli
from starlink42k.lake import report_prefix
from starlink42k.settings import variable_names
from support.replay import ScriptedReplay


@dataclass(frozen=True)
class Run:
    ds: str
    env: dict[str, str]  # what the run's CLI saw: use it for a later `report` or `backtest`
    lake: Path
    warehouse_url: str
    stdout: str

    @property
    def answer_bytes(self) -> bytes:
        return (self.lake / report_prefix(self.ds) / "answer.json").read_bytes()

    @property
    def answer(self) -> dict[str, Any]:
        return json.loads(self.answer_bytes)

    def use(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Point this test's CLI at the run's lake, warehouse and settings."""
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)


@contextlib.contextmanager
def database(pg_server: str, prefix: str = "golden") -> Iterator[str]:
    """A new database on the session's server, dropped after."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        yield pg_server.replace("/postgres?", f"/{name}?")
    finally:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def whole_run(api: dict[str, list[dict]], ds: str, root: Path, pg_server: str) -> Iterator[Run]:
    """`starlink42k run --ds ds` against a replay of ``api`` (launches and starlink), into a lake
    under ``root`` and a database of its own, with no other setting of the caller's environment.
    The replay stops with the run: what reads the run afterwards fetches nothing."""
    with database(pg_server) as url:
        with ScriptedReplay(spacex=api) as server, pytest.MonkeyPatch.context() as mp:
            env = {
                "SPACEX_API_URL": server.spacex_url,
                "LAKE_URL": (root / "lake").as_uri(),
                "WAREHOUSE_URL": url,
                "DATA_DIR": str(root / "data"),
                "DBT_PROJECT_DIR": str(REPO / "dbt"),
                "DATASETS": "launches,starlink",
                "SPACEX_PAGE_SIZE": "100",
                "HTTP_BACKOFF_SECONDS": "0.01",
                "HTTP_TIMEOUT": "5",
            }
            for name in variable_names():
                mp.delenv(name, raising=False)
            for name, value in env.items():
                mp.setenv(name, value)
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = cli.main(["run", "--ds", ds])
        assert code == 0, f"the golden run of ds {ds} failed (exit {code}); its log is above"
        yield Run(ds=ds, env=env, lake=root / "lake", warehouse_url=url, stdout=out.getvalue())
