"""The pipeline under test as the fault cases drive it: the CLI in a subprocess (so it can be killed),
and the exact state of the lake and the warehouse it leaves."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from starlink42k.datasets import NAMES as ALL_DATASETS
from starlink42k.settings import variable_names
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
        """answer.json without the stamps of when the data was fetched and loaded: a rerun fetches
        and loads again, so only those may differ (a rerun of `report` alone keeps even them)."""
        answer = json.loads(self.answer(ds))
        answer.pop("data_loaded_at")
        answer.pop("data_fetched_at")
        for source in answer["sources"]:
            source.pop("fetched_at")
        return answer

    def snapshot(self) -> dict[str, Any]:
        return {"lake": lake_files(self.lake_dir), "warehouse": warehouse_tables(self.warehouse_url)}

    def leftovers(self) -> list[str]:
        """What a step that ended 0 must not leave: temp files and tables, and loads not published."""
        return lake_leftovers(self.lake_dir) + warehouse_leftovers(self.warehouse_url) + pending(self.warehouse_url)

    @property
    def datasets(self) -> tuple[str, ...]:
        """The run's DATASETS: what every ds is published with."""
        chosen = tuple(d.strip() for d in self.env.get("DATASETS", "").split(",") if d.strip())
        return chosen or ALL_DATASETS

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


def pending(url: str) -> list[str]:
    """Loads not published yet: raw.load_pending's rows and the `__pending` tables they fill."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = []
        if conn.execute("select to_regclass('raw.load_pending') is not null").fetchone()[0]:
            rows = conn.execute("select dataset, ds::text from raw.load_pending order by 2, 1").fetchall()
        tables = conn.execute(
            """select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where n.nspname = 'raw' and c.relkind = 'r' and c.relname ~ '__pending$' order by 1"""
        ).fetchall()
    return [f"warehouse: {d} of ds {ds} loaded, not published" for d, ds in rows] + [
        f"warehouse: raw.{t}" for (t,) in tables
    ]


def pending_state(url: str) -> dict[str, list[str]]:
    """Per ds, the datasets loaded and not published."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("select ds::text, dataset from raw.load_pending order by 1, 2").fetchall()
    out: dict[str, list[str]] = {}
    for ds, dataset in rows:
        out.setdefault(ds, []).append(dataset)
    return out


def wait_for(predicate, timeout: float = 60, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        time.sleep(poll)


# --- a stack of one's own (module-scoped: the kill and infrastructure cases share their baseline runs) ---

REPO = Path(__file__).resolve().parents[2]


def stack_env(root: Path, warehouse_url: str, replay: ScriptedReplay) -> dict[str, str]:
    """The CLI's environment for a stack rooted at ``root``: nothing of the developer's settings, small
    pages, fast retries."""
    env = {k: v for k, v in os.environ.items() if k not in variable_names()}
    env.update(
        DATA_DIR=str(root / "data"),
        LAKE_URL=(root / "lake").as_uri(),
        WAREHOUSE_URL=warehouse_url,
        SPACEX_API_URL=replay.spacex_url,
        CELESTRAK_URL=replay.url,
        DBT_PROJECT_DIR=str(REPO / "dbt"),
        SPACEX_PAGE_SIZE="100",
        HTTP_BACKOFF_SECONDS="0.01",
        HTTP_TIMEOUT="5",
        # The fixtures' SATCAT is years older than the cases' ds; its freshness verdict is not what they
        # break (test_1_sources.py has the stale source), so it never stops a run here.
        SATCAT_ERROR_AFTER_DAYS="100000",
    )
    return env


def new_database(server_url: str) -> str:
    """A fresh database on the session's server (dropped with the server at the session's end)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    return server_url.replace("/postgres?", f"/{name}?")


# --- watching a step from outside: its JSON log events, as they come -----------------------------


class Watched:
    """A CLI process started with ``-v --log-format json``; a thread collects its events with the
    monotonic time each arrived, so a case can kill it at a named step without hooks in the code."""

    def __init__(self, proc: subprocess.Popen):
        import threading

        self.proc = proc
        self.started = time.monotonic()
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                self.events.append((time.monotonic() - self.started, record))

    def seen(self, name: str) -> bool:
        return any(e.get("event") == name for _, e in self.events)

    def wait_event(self, name: str, timeout: float = 120) -> None:
        wait_for(lambda: self.seen(name) or self.proc.poll() is not None, timeout)
        assert self.seen(name), f"the process ended ({self.proc.returncode}) before {name}: {self.stderr()[-2000:]}"

    def at(self, name: str) -> float:
        """Seconds from start to the last event ``name``."""
        return max(t for t, e in self.events if e.get("event") == name)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._thread.join(10)
        return code

    def stderr(self) -> str:
        return "".join(self.lines)


def start_watched(stack: Stack, *args: str, **env: str) -> Watched:
    return Watched(stack.start("-v", "--log-format", "json", *args, **env))


# --- what a reader may rely on, at any moment -----------------------------------------------------


def invariants(stack: Stack) -> list[str]:
    """Every way a reader could see incomplete data, as a list of violations (empty: none).

    - warehouse: every raw.load_log row has its partition attached with exactly that many rows, and
      every attached partition has its load_log row; every ds in raw.load_log is published for every
      dataset of the run's DATASETS (a ds is whole or absent); no `__loading` table or detached
      partition; every pending load (raw.load_pending) has its `__pending` table, not attached, with
      that many rows, and every `__pending` table its row; the marts the report reads are there,
      with one summary row, built from published snapshots (dim_data_sources, marts_build);
    - lake: every manifest's object exists with the manifest's sha256 and size; every report folder
      with an answer.json has its chart and report, the answer is of that folder's ds and names
      published snapshots only.
    Temporary files of a killed writer (lake `.tmp`, dbt's `__dbt_backup`) are not visible to readers
    and are swept by the next write; ``Stack.leftovers()`` checks them after a rerun.
    """
    problems = [p for p in warehouse_leftovers(stack.warehouse_url) if "__dbt_" not in p]
    with psycopg.connect(stack.warehouse_url, autocommit=True) as conn:
        has_raw = conn.execute("select to_regclass('raw.load_log') is not null").fetchone()[0]
        logged: dict[tuple[str, str], int] = {}
        if has_raw:
            logged = {(d, str(ds)): rows for d, ds, rows in conn.execute("select dataset, ds, rows from raw.load_log")}
        attached = conn.execute(
            """select p.relname, c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
               join pg_class p on p.oid = i.inhparent join pg_namespace n on n.oid = p.relnamespace
               where n.nspname = 'raw'"""
        ).fetchall()
        parts = {child: parent for parent, child in attached}
        for (dataset, ds), rows in sorted(logged.items()):
            part = f"{dataset}_{ds.replace('-', '')}"
            if parts.get(part) != dataset:
                problems.append(f"raw.load_log lists {dataset} {ds} but raw.{part} is not attached")
                continue
            count = conn.execute(f'select count(*) from raw."{part}"').fetchone()[0]  # name from the catalog
            if count != rows:
                problems.append(f"raw.{part} has {count} rows, raw.load_log says {rows}")
        logged_parts = {f"{d}_{ds.replace('-', '')}" for d, ds in logged}
        problems += [f"raw.{p} is attached without a raw.load_log row" for p in sorted(parts) if p not in logged_parts]
        published: dict[str, set[str]] = {}
        for dataset, ds in logged:
            published.setdefault(ds, set()).add(dataset)
        problems += [
            f"ds {ds} is published for {', '.join(sorted(names))} only, not all of {', '.join(stack.datasets)}"
            for ds, names in sorted(published.items())
            if names != set(stack.datasets)
        ]
        waiting = {}
        if conn.execute("select to_regclass('raw.load_pending') is not null").fetchone()[0]:
            waiting = {(d, str(ds)): n for d, ds, n in conn.execute("select dataset, ds, rows from raw.load_pending")}
        tables = {t for (t,) in conn.execute(
            "select relname from pg_class where relnamespace = 'raw'::regnamespace and relname ~ '__pending$'"
        )}  # fmt: skip
        for (dataset, ds), rows in sorted(waiting.items()):
            table = f"{dataset}_{ds.replace('-', '')}__pending"
            if table not in tables:
                problems.append(f"raw.load_pending lists {dataset} {ds} but raw.{table} is missing")
            elif table in parts:
                problems.append(f"raw.{table} is attached before it is published")
            elif (count := conn.execute(f'select count(*) from raw."{table}"').fetchone()[0]) != rows:
                problems.append(f"raw.{table} has {count} rows, raw.load_pending says {rows}")
        expected = {f"{d}_{ds.replace('-', '')}__pending" for d, ds in waiting}
        problems += [f"raw.{t} has no raw.load_pending row" for t in sorted(tables - expected)]
        if conn.execute("select to_regclass('marts.fct_constellation_summary') is not null").fetchone()[0]:
            if conn.execute("select count(*) from marts.fct_constellation_summary").fetchone()[0] != 1:
                problems.append("marts.fct_constellation_summary does not have exactly one row")
            for name, snapshot in conn.execute("select source_name, snapshot_ds from marts.dim_data_sources"):
                dataset = "starlink" if name == "spacex_api" else "satcat"
                if (dataset, str(snapshot)) not in logged:
                    problems.append(f"marts.dim_data_sources: {name} reads {dataset} {snapshot}, never published")
        if conn.execute("select to_regclass('marts.marts_build') is not null").fetchone()[0]:
            for dataset, snapshot in conn.execute(
                "select s.key, s.value ->> 'snapshot_ds' from marts.marts_build, jsonb_each(snapshots) as s"
            ):
                if snapshot is not None and (dataset, snapshot) not in logged:
                    problems.append(f"marts.marts_build: built from {dataset} {snapshot}, never published")
    problems += lake_problems(stack.lake_dir)
    for answer_path in sorted(stack.lake_dir.glob("reports/starlink/ds=*/answer.json")):
        for source in json.loads(answer_path.read_bytes())["sources"]:
            dataset = "starlink" if source["name"] == "spacex_api" else "satcat"
            if (dataset, source["snapshot_ds"]) not in logged:
                where = answer_path.relative_to(stack.lake_dir)
                problems.append(f"lake: {where} answers from {dataset} {source['snapshot_ds']}, not published")
    return problems


def lake_problems(root: Path) -> list[str]:
    problems = []
    for manifest_path in sorted(root.rglob("_manifest.json")):
        manifest = json.loads(manifest_path.read_bytes())
        data = manifest_path.parent / manifest["object"]
        where = data.relative_to(root)
        if not data.is_file():
            problems.append(f"lake: {where} is missing, its manifest is there")
        elif (
            hashlib.sha256(data.read_bytes()).hexdigest() != manifest["sha256"]
            or data.stat().st_size != manifest["bytes"]
        ):
            problems.append(f"lake: {where} does not match its manifest")
    for answer_path in sorted(root.glob("reports/starlink/ds=*/answer.json")):
        folder = answer_path.parent
        missing = [n for n in ("chart.png", "report.md") if not (folder / n).is_file()]
        if missing:
            problems.append(f"lake: {folder.relative_to(root)} has answer.json without {', '.join(missing)}")
        if json.loads(answer_path.read_bytes())["ds"] != folder.name.removeprefix("ds="):
            problems.append(f"lake: {answer_path.relative_to(root)} is the answer of another ds")
    return problems


def protected(stack: Stack, ds: str) -> dict[str, Any]:
    """What a run of ``ds``, killed or failed, must leave byte for byte and row for row: every lake
    file of other ds, every raw partition of other ds and their raw.load_log and freshness rows."""
    mark = f"ds={ds}/"
    lake = {k: v for k, v in lake_files(stack.lake_dir).items() if mark not in k and not k.startswith("dbt-docs/")}
    tag = ds.replace("-", "")
    tables = {
        k: v
        for k, v in warehouse_tables(stack.warehouse_url).items()
        if k.startswith("raw.") and re.search(r"_\d{8}$", k) and not k.endswith(tag)
    }
    rows: dict[str, list[str]] = {}
    with psycopg.connect(stack.warehouse_url, autocommit=True) as conn:
        for table in ("load_log", "source_freshness"):
            if conn.execute("select to_regclass(%s) is not null", (f"raw.{table}",)).fetchone()[0]:
                rows[table] = [
                    r[0] for r in conn.execute(f"select t::text from raw.{table} t where ds <> %s order by 1", (ds,))
                ]
    return {"lake": lake, "raw": tables, "rows": rows}


def dbt_sessions(url: str) -> list[str]:
    """Open sessions of dbt on the stack's database (an orphaned dbt of a killed step would show here)."""
    from psycopg.conninfo import conninfo_to_dict

    dbname = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """select application_name, state from pg_stat_activity
               where datname = %s and application_name ilike 'dbt%%'""",
            (dbname,),
        ).fetchall()
    return [f"{a} ({s})" for a, s in rows]
