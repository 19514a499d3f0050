"""The pipeline under test as the fault cases drive it: the CLI in a subprocess (so it can be killed),
and the exact state of the lake and the warehouse it leaves."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from support.replay import ScriptedReplay

CLI = str(Path(sys.executable).parent / "starlink42k")
# The warehouse schemas the pipeline and dbt write (dbt_project.yml: +schema).
SCHEMAS = ("raw", "staging", "intermediate", "marts")


@dataclass
class Stack:
    env: dict[str, str]
    lake_dir: Path
    warehouse_url: str
    replay: ScriptedReplay
    procs: list[subprocess.Popen] = field(default_factory=list)

    def run(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        """``starlink42k <args>`` to its end; extra env overrides the stack's."""
        return subprocess.run(
            [CLI, *args], env={**self.env, **env}, capture_output=True, text=True, timeout=timeout
        )  # fmt: skip

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        """``starlink42k <args>`` in the background (to be killed, or raced)."""
        proc = subprocess.Popen(
            [CLI, *args], env={**self.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL: no handler, no finally, no atexit runs, as when a node dies or the OOM killer strikes."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    def answer(self, ds: str) -> bytes:
        return (self.lake_dir / f"reports/starlink/ds={ds}/answer.json").read_bytes()

    def answer_facts(self, ds: str) -> dict[str, Any]:
        """answer.json without the two stamps of when the data was fetched and loaded: a rerun fetches
        and loads again, so only those may differ (a rerun of `report` alone keeps even them)."""
        answer = json.loads(self.answer(ds))
        answer.pop("data_loaded_at")
        for source in answer["sources"]:
            source.pop("fetched_at")
        return answer

    def snapshot(self) -> dict[str, Any]:
        return {"lake": lake_files(self.lake_dir), "warehouse": warehouse_tables(self.warehouse_url)}

    def leftovers(self) -> list[str]:
        return lake_leftovers(self.lake_dir) + warehouse_leftovers(self.warehouse_url)

    def stop_all(self) -> None:
        for proc in self.procs:
            self.kill(proc)


def lake_files(root: Path) -> dict[str, str]:
    """Every file of the lake, by key: its sha256."""
    if not root.exists():
        return {}
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def lake_leftovers(root: Path) -> list[str]:
    """Temp files of interrupted writes (LocalLake writes `.<name>.*.tmp` beside the target)."""
    if not root.exists():
        return []
    return [f"lake: {p.relative_to(root)}" for p in sorted(root.rglob("*")) if p.name.endswith(".tmp")]


def warehouse_tables(url: str) -> dict[str, tuple[int, str]]:
    """Every table and view of the pipeline's schemas: (rows, sha256 of its rows in a stable order)."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        names = conn.execute(
            """select table_schema || '.' || table_name from information_schema.tables
               where table_schema = any(%s) order by 1""",
            (list(SCHEMAS),),
        ).fetchall()
        for (name,) in names:
            schema, table = name.split(".", 1)
            rows = conn.execute(
                f'select t::text from "{schema}"."{table}" t order by 1'  # names from the catalog
            ).fetchall()
            digest = hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest()
            out[name] = (len(rows), digest)
    return out


def warehouse_leftovers(url: str) -> list[str]:
    """Tables of an interrupted load (`<partition>__loading`), partitions (`<dataset>_<yyyymmdd>`) not
    attached to their parent,
    and dbt's `__dbt_tmp` / `__dbt_backup` relations."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = any(%s) and c.relkind in ('r', 'v', 'm', 'p')
                 and (c.relname ~ '__loading$' or c.relname ~ '__dbt_(tmp|backup)$'
                      or (n.nspname = 'raw' and c.relname ~ '_[0-9]{8}$' and not c.relispartition))
               order by 1""",
            (list(SCHEMAS),),
        ).fetchall()
    return [f"warehouse: {name}" for (name,) in rows]


def wait_for(predicate, timeout: float = 60, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        time.sleep(poll)
