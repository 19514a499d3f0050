"""The PostgreSQL warehouse: where it is, and the one way data gets into ``raw``.

``raw.<dataset>`` is partitioned by ``ds`` (one partition per logical date). Data reaches it in two
steps, so that a ds is all or nothing to every reader even though its datasets load separately (in
parallel tasks under Airflow):

- a load streams one dataset's curated CSV with COPY into ``raw.<dataset>_<yyyymmdd>__pending``, a
  table no reader looks at, and records it in ``raw.load_pending``, in one transaction;
- publishing a ds swaps every pending table of the run's datasets in as that ds's partitions and
  moves their rows to ``raw.load_log``, in one transaction, once every one of them is loaded.

``raw.load_log`` lists the published loads only: what was loaded and where and when the source was
fetched. Every reader goes through it (dbt's staging finds the newest published ds there, the
report the provenance of its sources, `status` and the dashboard their counts), so a reader sees
the previous published ds whole until the new one is published whole. A failure at any point leaves
the published partitions as they were and the pending ones of the ds for the rerun; a rerun gives
the same rows; other ds are never touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from .datasets import DATASETS, Dataset
from .errors import ConfigError, WarehouseError
from .log import event, get_logger, masked_url

log = get_logger("load")
# pgserver's platformdirs warns on every server start where XDG_RUNTIME_DIR is unset (CI, containers).
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
SCHEMA = "raw"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
COPY_BLOCK = 1 << 20
PROGRESS_EVERY = 64 << 20  # bytes between progress lines
# How long a step waits for a lock another step holds (a load of the same dataset, a transform, a run
# of the same ds) before it gives up with a message naming what it waited for. Every session of the
# pipeline (and dbt's, dbt_runner.py) has it as its lock_timeout: no statement, DDL included, waits longer.
LOCK_WAIT_SECONDS = 600
# How often a server process checks, while running a statement, that its client is still there: the
# backend of a killed client (SIGKILL, a lost pod) then aborts its transaction and frees its locks
# within this time, instead of holding them until its statement ends (PostgreSQL 14+).
CLIENT_CHECK_MS = 2000
# The pipeline never waits on anything but the warehouse inside a transaction: a session idle in one
# for this long belongs to a client that is stuck or stopped (SIGSTOP), and the server ends it.
IDLE_IN_TRANSACTION_MS = 60_000


# --- where the warehouse is ---------------------------------------------------------------------


@dataclass(frozen=True)
class Warehouse:
    url: str
    embedded: bool = False

    def dbt_env(self) -> dict[str, str]:
        """Connection settings as the variables dbt's profiles.yml reads with env_var(), and the
        pipeline's session settings as libpq's PGOPTIONS (after the caller's own)."""
        params = conninfo_to_dict(self.url)
        return {
            "WAREHOUSE_HOST": str(params.get("host") or "localhost"),
            "WAREHOUSE_PORT": str(params.get("port") or "5432"),
            "WAREHOUSE_USER": str(params.get("user") or "postgres"),
            "WAREHOUSE_PASSWORD": str(params.get("password") or ""),
            "WAREHOUSE_DB": str(params.get("dbname") or "postgres"),
            "PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS", ""), dbt_pgoptions()])),
        }

    def display_url(self) -> str:
        """The URL without its password, for logs and messages."""
        return masked_url(self.url)


def embedded_url(pgdata: Path) -> str:
    return f"postgresql://postgres@/postgres?host={quote(str(pgdata), safe='/')}"


def resolve(warehouse_url: str | None, data_dir: Path) -> Warehouse:
    """WAREHOUSE_URL when set; otherwise start (or reuse) the embedded PostgreSQL in DATA_DIR."""
    if warehouse_url:
        if not warehouse_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"WAREHOUSE_URL must be a postgresql:// URL, got {warehouse_url[:30]!r}...")
        return Warehouse(warehouse_url)
    return start_embedded(data_dir / "warehouse")


def start_embedded(pgdata: Path) -> Warehouse:
    try:
        import pgserver
    except ImportError:
        raise ConfigError(
            "WAREHOUSE_URL is not set and the embedded PostgreSQL (pgserver) is not installed: "
            "set WAREHOUSE_URL=postgresql://user:password@host:5432/db, or use `make run`"
        ) from None
    pgdata.mkdir(parents=True, exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so later steps and `psql` can use it.
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    url = embedded_url(pgdata)
    event(
        log,
        "warehouse.embedded",
        "embedded PostgreSQL is running",
        pgdata=str(pgdata),
        connect=f"psql '{url}'",
        psql=str(Path(pgserver.__file__).parent / "pginstall/bin/psql"),
    )
    del server
    return Warehouse(url, embedded=True)


def stop_embedded(pgdata: Path) -> bool:
    """Stop the embedded server if it runs; returns whether it did."""
    import pgserver

    if not (pgdata / "postmaster.pid").exists():
        return False
    pgserver.get_server(pgdata, cleanup_mode="stop").cleanup()
    return True


def session_settings(server_version: int) -> dict[str, str]:
    """What every session of the pipeline sets (dbt's too, through PGOPTIONS): bounded lock waits, and
    a server that notices a client gone (killed, stopped) and frees its locks."""
    settings = {
        "lock_timeout": f"{int(LOCK_WAIT_SECONDS * 1000)}ms",
        "idle_in_transaction_session_timeout": f"{IDLE_IN_TRANSACTION_MS}ms",
    }
    if server_version >= 140000:
        settings["client_connection_check_interval"] = f"{CLIENT_CHECK_MS}ms"
    return settings


def dbt_pgoptions() -> str:
    """dbt's sessions get the same bounded lock waits and client checks as the pipeline's own, so that
    a stopped or killed dbt leaves nothing running (it needs PostgreSQL 14+, as the chart's and the
    embedded server are). Not the idle-in-transaction timeout: how long dbt keeps a transaction
    open between its statements is dbt's own business."""
    settings = session_settings(140000)
    del settings["idle_in_transaction_session_timeout"]
    return " ".join(f"-c {name}={value}" for name, value in settings.items())


def connect(warehouse: Warehouse, **kwargs) -> psycopg.Connection:
    try:
        conn = psycopg.connect(warehouse.url, connect_timeout=15, application_name="starlink42k", **kwargs)
        settings = session_settings(conn.info.server_version)
        conn.execute(
            sql.SQL("select {}").format(
                sql.SQL(", ").join(sql.SQL("set_config({}, {}, false)").format(k, v) for k, v in settings.items())
            )
        )
        if not conn.autocommit:
            conn.commit()
        return conn
    except psycopg.OperationalError as exc:
        raise WarehouseError(f"cannot connect to the warehouse {warehouse.display_url()}: {exc}".strip()) from None


# --- locks between steps -------------------------------------------------------------------------
# Advisory locks, so that they hold across hosts and pods and go with the session of a killed process.
# `run` holds RUN_LOCK for its ds from its first write to its report; a transform holds MARTS_LOCK
# exclusively while dbt rebuilds the marts (in `run`, until its report is written), a report and every
# publish share it: marts are built from, and read as, one consistent state. A load writes only what no
# reader sees, so it does not wait for a transform. Each load holds its dataset's LOAD_LOCK; a publish
# takes MARTS_LOCK, then the LOAD_LOCK of each of its datasets in name order, then table locks;
# transforms never take a LOAD_LOCK: there is no cycle.
RUN_LOCK = "starlink42k.run"
MARTS_LOCK = "starlink42k.marts"
LOAD_LOCK = "starlink42k.load"


@contextmanager
def advisory_lock(
    warehouse: Warehouse, name: str, key: str = "", *, shared: bool = False, what: str, wait: float | None = None
) -> Iterator[psycopg.Connection]:
    """Hold session advisory lock (name, key) on a connection of its own for the block; wait at most
    ``wait`` seconds (LOCK_WAIT_SECONDS) for it, then fail naming ``what`` holds it."""
    wait = LOCK_WAIT_SECONDS if wait is None else wait
    conn = connect(warehouse, autocommit=True)
    try:
        conn.execute(sql.SQL("set lock_timeout = {}").format(sql.Literal(f"{int(wait * 1000)}ms")))
        func = "pg_advisory_lock_shared" if shared else "pg_advisory_lock"
        started = time.monotonic()
        try:
            conn.execute(sql.SQL("select {}(hashtext(%s), hashtext(%s))").format(sql.Identifier(func)), (name, key))
        except psycopg.errors.LockNotAvailable:
            raise WarehouseError(
                f"waited {time.monotonic() - started:.0f}s for {what} to finish; it still runs: "
                "try again when it is done"
            ) from None
        except psycopg.OperationalError as exc:
            raise WarehouseError(f"the warehouse {warehouse.display_url()} failed: {exc}".strip()) from None
        yield conn
    finally:
        conn.close()  # ends the session: the lock goes with it


def marts_lock(warehouse: Warehouse, *, shared: bool = False) -> contextlib.AbstractContextManager:
    """Exclusive while dbt rebuilds the marts (transform, backtest); shared to read them (report)."""
    return advisory_lock(warehouse, MARTS_LOCK, shared=shared, what="another transform (dbt build of the marts)")


def lock_holders(conn: psycopg.Connection) -> str:
    """The sessions that hold locks on the raw schema's tables or advisory locks, oldest first, for a
    message: ``pid 4242 dbt (active for 468s: create table ...)``."""
    rows = conn.execute(
        r"""select a.pid, coalesce(nullif(a.application_name, ''), a.usename::text), a.state,
                  extract(epoch from now() - coalesce(a.xact_start, a.query_start))::int,
                  left(regexp_replace(a.query, '\s+', ' ', 'g'), 100)
           from pg_stat_activity a
           where a.pid <> pg_backend_pid() and a.datname = current_database()
             and exists (select from pg_locks l left join pg_class c on c.oid = l.relation
                         where l.pid = a.pid and l.granted
                           and (l.locktype = 'advisory' or c.relnamespace = 'raw'::regnamespace))
           order by 4 desc nulls last limit 3"""
    ).fetchall()
    if not rows:
        return "no session holds them any more"
    return "held by " + "; ".join(f"pid {p} {app} ({state} for {age}s: {query})" for p, app, state, age, query in rows)


@contextmanager
def waiting_for(conn: psycopg.Connection, what: str) -> Iterator[None]:
    """Turn a lock wait of the block that ran out (lock_timeout: LOCK_WAIT_SECONDS) into an error naming
    ``what`` it waited for and who holds it. Wrap a whole transaction: its rollback comes first."""
    started = time.monotonic()
    try:
        yield
    except psycopg.errors.LockNotAvailable:
        waited = time.monotonic() - started
        try:
            holders = lock_holders(conn)
        except psycopg.Error:
            holders = "who holds them is unknown"
        raise WarehouseError(
            f"waited {waited:.0f}s (LOCK_WAIT_SECONDS) for {what}; {holders}. Try again when it is done"
        ) from None


def bounded_lock_wait(conn: psycopg.Connection) -> None:
    """In a transaction: its statements wait at most LOCK_WAIT_SECONDS for a lock, whoever opened the
    connection (connect() sets it for the session too)."""
    conn.execute(sql.SQL("set local lock_timeout = {}").format(sql.Literal(f"{int(LOCK_WAIT_SECONDS * 1000)}ms")))


# --- loading one ds ------------------------------------------------------------------------------


def _ident(name: str, what: str) -> sql.Identifier:
    if not _IDENTIFIER.match(name):
        raise WarehouseError(f"{what} {name!r} is not a valid column name (lowercase letters, digits, _)")
    return sql.Identifier(name)


def partition_name(dataset: str, ds: str) -> str:
    return f"{dataset}_{ds.replace('-', '')}"


def pending_name(dataset: str, ds: str) -> str:
    """The table a load fills and a publish swaps in (not a partition: no reader sees it)."""
    return f"{partition_name(dataset, ds)}__pending"


# Columns raw.load_log gained after the first release (null for older loads): the snapshot's provenance,
# and what to-csv made of it: records fetched (the raw manifest's count), rejected, and left outside the
# dataset's selection (`starlink42k status`).
LOAD_LOG_ADDED = {
    "fetched_from": "text",
    "fetched_at": "timestamptz",
    "fetched_records": "bigint",
    "rejected_records": "bigint",
    "excluded_records": "bigint",
}


def create_raw_tables(conn: psycopg.Connection) -> None:
    """Create the raw schema, the load log and every dataset's table that does not exist yet.

    All of them, so that dbt's sources resolve even for a dataset a run leaves out. In a short
    transaction of its own, serialised by an advisory lock: parallel loads of different datasets
    would otherwise race on CREATE ... IF NOT EXISTS. Once they exist it takes no table lock (an
    ALTER TABLE would wait for every reader of raw.load_log, a running dbt model among them), and
    every wait is bounded (LOCK_WAIT_SECONDS).
    """
    with waiting_for(conn, "the raw schema's tables (to create the missing ones)"), conn.transaction():
        bounded_lock_wait(conn)
        conn.execute("select pg_advisory_xact_lock(hashtext('starlink42k.ddl'))")
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(SCHEMA)))
        conn.execute(
            """create table if not exists raw.load_log (
                   dataset text not null, ds date not null, rows bigint not null,
                   sha256 text not null, source_uri text not null,
                   loaded_at timestamptz not null default now(), primary key (dataset, ds))"""
        )
        # Only a column it lacks is added: ALTER TABLE locks out every reader, even with IF NOT EXISTS.
        existing = {
            r[0]
            for r in conn.execute(
                "select attname from pg_attribute where attrelid = 'raw.load_log'::regclass and not attisdropped"
            )
        }
        missing = [
            sql.SQL("add column {} {}").format(sql.Identifier(name), sql.SQL(kind))
            for name, kind in LOAD_LOG_ADDED.items()
            if name not in existing
        ]
        if missing:
            conn.execute(sql.SQL("alter table raw.load_log {}").format(sql.SQL(", ").join(missing)))
        # Loads not published yet: the same record, moved to raw.load_log when the ds is published.
        conn.execute(
            "create table if not exists raw.load_pending (like raw.load_log including defaults including indexes)"
        )
        # When the load's ds was published (null: published before this column existed).
        if "published_at" not in existing:
            conn.execute("alter table raw.load_log add column published_at timestamptz")
        # `dbt source freshness` of each run's ds, as the freshness step keeps it (freshness.py).
        conn.execute(
            """create table if not exists raw.source_freshness (
                   ds date not null, source text not null, status text not null, as_of date,
                   age_days integer, warn_after_days double precision, error_after_days double precision,
                   checked_at timestamptz not null, primary key (ds, source))"""
        )
        for spec in DATASETS.values():
            columns = [sql.SQL("{} {}").format(_ident(c.name, "column"), sql.SQL(c.type)) for c in spec.columns]
            conn.execute(
                sql.SQL("create table if not exists {} ({}, ds date not null) partition by list (ds)").format(
                    sql.Identifier(SCHEMA, spec.name), sql.SQL(", ").join(columns)
                )
            )


def add_new_columns(conn: psycopg.Connection, dataset: Dataset, csv_columns: list[str]) -> None:
    """Add any CSV column ``raw.<dataset>`` lacks (a column the source added); never drop one."""
    table = sql.Identifier(SCHEMA, dataset.name)
    existing = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
            (SCHEMA, dataset.name),
        )
    }
    for name in csv_columns:
        if name not in existing:
            kind = dataset.column_type(name)
            event(
                log,
                "load.add_column",
                f"raw.{dataset.name}: new column {name} {kind}",
                dataset=dataset.name,
                column=name,
                type=kind,
            )
            conn.execute(
                sql.SQL("alter table {} add column {} {}").format(table, _ident(name, "CSV column"), sql.SQL(kind))
            )


def read_header(stream: IO[bytes], source: str) -> tuple[list[str], bytes]:
    """The CSV header's column names, and the bytes read so far (to be sent to COPY too)."""
    first = stream.readline()
    if not first.strip():
        raise WarehouseError(f"{source} is empty: expected a CSV header line")
    names = [c.strip().strip('"') for c in first.decode("utf-8").strip().split(",")]
    return names, first


@dataclass
class LoadResult:
    rows: int
    sha256: str
    table: str  # the pending table, until the ds is published


def load_csv(
    conn: psycopg.Connection,
    dataset: Dataset,
    ds: str,
    stream: IO[bytes],
    *,
    expected_rows: int,
    expected_sha256: str,
    source_uri: str,
    fetched_from: str | None = None,
    fetched_at: str | None = None,
    counts: dict[str, int | None] | None = None,
) -> LoadResult:
    """Load the CSV in ``stream`` as ``raw.<dataset>``'s pending table for ``ds``, atomically,
    replacing a pending one; ``publish_ds`` later swaps it in as the partition.

    ``counts`` (fetched, rejected, excluded: from the curated manifest) go to raw.load_pending with it.
    """
    counts = counts or {}
    names, header = read_header(stream, source_uri)
    final = partition_name(dataset.name, ds)
    pending = pending_name(dataset.name, ds)
    staging = f"{final}__loading"
    digest = hashlib.sha256(header)
    create_raw_tables(conn)
    waited_for = (
        f"the locks of raw.{dataset.name} (another load of it, a publish, or a reader of raw.{dataset.name} "
        "when the CSV brings a new column)"
    )
    with waiting_for(conn, waited_for), conn.transaction():
        bounded_lock_wait(conn)
        # One load per dataset at a time: DDL on the parent and the pending swap must not interleave.
        conn.execute("select pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (LOAD_LOCK, dataset.name))
        add_new_columns(conn, dataset, names)
        parent = sql.Identifier(SCHEMA, dataset.name)
        new = sql.Identifier(SCHEMA, staging)
        conn.execute(sql.SQL("drop table if exists {}").format(new))
        # The CHECK lets ATTACH skip its validation scan; the default fills ds, which the CSV lacks.
        conn.execute(
            sql.SQL("create table {} (like {} including defaults, check (ds = {}))").format(
                new, parent, sql.Literal(ds)
            )
        )
        conn.execute(sql.SQL("alter table {} alter column ds set default {}").format(new, sql.Literal(ds)))
        copy_sql = sql.SQL("copy {} ({}) from stdin with (format csv, header true, freeze true)").format(
            new, sql.SQL(", ").join(_ident(n, "CSV column") for n in names)
        )
        with conn.cursor() as cur:
            with cur.copy(copy_sql) as copy:
                copy.write(header)
                sent = len(header)
                for block in iter(lambda: stream.read(COPY_BLOCK), b""):
                    digest.update(block)
                    copy.write(block)
                    sent += len(block)
                    if sent // PROGRESS_EVERY != (sent - len(block)) // PROGRESS_EVERY:
                        event(
                            log,
                            "load.progress",
                            f"{dataset.name}: {sent >> 20} MiB sent",
                            dataset=dataset.name,
                            mib=sent >> 20,
                        )
            rows = cur.rowcount
        if digest.hexdigest() != expected_sha256:
            raise WarehouseError(f"{source_uri} does not match its manifest's sha256; nothing was loaded")
        if rows != expected_rows:
            raise WarehouseError(f"{source_uri}: COPY read {rows} rows, the manifest says {expected_rows}")
        conn.execute(sql.SQL("alter table {} alter column ds drop default").format(new))
        # Statistics before anyone can plan on it: without them the planner guesses a few rows and
        # picks nested loops over what can be a hundred thousand (autovacuum gets there a minute later).
        conn.execute(sql.SQL("analyze {}").format(new))
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(SCHEMA, pending)))
        conn.execute(sql.SQL("alter table {} rename to {}").format(new, sql.Identifier(pending)))
        conn.execute(
            """insert into raw.load_pending (dataset, ds, rows, sha256, source_uri, fetched_from, fetched_at,
                   fetched_records, rejected_records, excluded_records)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (dataset, ds) do update set rows = excluded.rows, sha256 = excluded.sha256,
                   source_uri = excluded.source_uri, fetched_from = excluded.fetched_from,
                   fetched_at = excluded.fetched_at, fetched_records = excluded.fetched_records,
                   rejected_records = excluded.rejected_records, excluded_records = excluded.excluded_records,
                   loaded_at = now()""",
            (
                dataset.name,
                ds,
                rows,
                expected_sha256,
                source_uri,
                fetched_from,
                fetched_at,
                counts.get("fetched"),
                counts.get("rejected"),
                counts.get("excluded"),
            ),
        )
    return LoadResult(rows=rows, sha256=expected_sha256, table=f"{SCHEMA}.{pending}")


# --- publishing one ds ---------------------------------------------------------------------------

# A load's record, as raw.load_pending keeps it and raw.load_log publishes it.
LOG_COLUMNS = (
    "dataset",
    "ds",
    "rows",
    "sha256",
    "source_uri",
    "fetched_from",
    "fetched_at",
    "fetched_records",
    "rejected_records",
    "excluded_records",
    "loaded_at",
)


@dataclass(frozen=True)
class DsState:
    """One ds, for the run's datasets: which are published (readers see them) and which are loaded
    and not published yet (pending)."""

    ds: str
    datasets: tuple[str, ...]
    published: tuple[str, ...]
    pending: tuple[str, ...]

    @property
    def not_loaded(self) -> tuple[str, ...]:
        """The run's datasets without a pending load: publishing waits for them."""
        return tuple(d for d in self.datasets if d not in self.pending)


def ds_state(conn: psycopg.Connection, ds: str, datasets: tuple[str, ...]) -> DsState:
    found: dict[str, set[str]] = {"published": set(), "pending": set()}
    if conn.execute("select to_regclass('raw.load_pending') is not null").fetchone()[0]:
        rows = conn.execute(
            """select 'published', dataset from raw.load_log where ds = %(ds)s and dataset = any(%(names)s)
               union all
               select 'pending', dataset from raw.load_pending where ds = %(ds)s and dataset = any(%(names)s)""",
            {"ds": ds, "names": list(datasets)},
        ).fetchall()
        for kind, name in rows:
            found[kind].add(name)
    return DsState(
        ds=ds,
        datasets=tuple(datasets),
        published=tuple(d for d in datasets if d in found["published"]),
        pending=tuple(d for d in datasets if d in found["pending"]),
    )


def publish_ds(
    conn: psycopg.Connection, ds: str, datasets: tuple[str, ...], *, keep_published: bool = False
) -> tuple[DsState, tuple[str, ...]]:
    """Publish ``ds`` if it is whole: every one of ``datasets`` has a pending load (with
    ``keep_published``, a dataset already published for ds may stay as it is instead). In one
    transaction, each pending table replaces its dataset's partition of ds and its record moves to
    raw.load_log. Returns the state found and the datasets published (none: nothing changed)."""
    waited_for = f"a transform, the loads of {', '.join(sorted(datasets))} and the readers of ds {ds}'s partitions"
    with waiting_for(conn, waited_for), conn.transaction():
        bounded_lock_wait(conn)
        # Not while a transform reads raw; and after any load of these datasets in progress has ended,
        # so that the pending loads read here are the ones swapped in.
        conn.execute("select pg_advisory_xact_lock_shared(hashtext(%s), hashtext(''))", (MARTS_LOCK,))
        for name in sorted(datasets):
            conn.execute("select pg_advisory_xact_lock(hashtext(%s), hashtext(%s))", (LOAD_LOCK, name))
        state = ds_state(conn, ds, datasets)
        missing = [d for d in state.not_loaded if not (keep_published and d in state.published)]
        if missing or not state.pending:
            return state, ()
        for name in sorted(state.pending):
            partition, pending = partition_name(name, ds), pending_name(name, ds)
            _add_parent_columns(conn, name, pending)
            table = sql.Identifier(SCHEMA, partition)
            conn.execute(sql.SQL("drop table if exists {}").format(table))
            conn.execute(
                sql.SQL("alter table {} rename to {}").format(
                    sql.Identifier(SCHEMA, pending), sql.Identifier(partition)
                )
            )
            conn.execute(
                sql.SQL("alter table {} attach partition {} for values in ({})").format(
                    sql.Identifier(SCHEMA, name), table, sql.Literal(ds)
                )
            )
        columns = sql.SQL(", ").join(map(sql.Identifier, LOG_COLUMNS))
        updates = sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in (*LOG_COLUMNS[2:], "published_at")
        )
        conn.execute(
            sql.SQL(
                """insert into raw.load_log ({columns}, published_at)
                   select {columns}, now() from raw.load_pending where ds = %(ds)s and dataset = any(%(names)s)
                   on conflict (dataset, ds) do update set {updates}"""
            ).format(columns=columns, updates=updates),
            {"ds": ds, "names": list(state.pending)},
        )
        conn.execute("delete from raw.load_pending where ds = %s and dataset = any(%s)", (ds, list(state.pending)))
    return state, state.pending


def _add_parent_columns(conn: psycopg.Connection, dataset: str, pending: str) -> None:
    """Give a pending table the columns its parent gained since it was loaded (a load of a later ds
    found a new CSV column), as null: ATTACH needs the same columns."""
    missing = conn.execute(
        """select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a
           where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
             and a.attname not in (select attname from pg_attribute where attrelid = %s::regclass
                                   and attnum > 0 and not attisdropped)""",
        (f"{SCHEMA}.{dataset}", f"{SCHEMA}.{pending}"),
    ).fetchall()
    for name, kind in missing:
        conn.execute(
            sql.SQL("alter table {} add column {} {}").format(
                sql.Identifier(SCHEMA, pending), sql.Identifier(name), sql.SQL(kind)
            )
        )


@contextmanager
def session(warehouse: Warehouse) -> Iterator[psycopg.Connection]:
    conn = connect(warehouse, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
