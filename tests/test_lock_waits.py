"""Every lock the pipeline takes waits at most LOCK_WAIT_SECONDS, schema changes included, and then says
what it waited for and who holds it; what needs no lock takes none (real PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from starlink42k import ingest
from starlink42k import lake as lakes
from starlink42k import publish as publishing
from starlink42k import warehouse as wh
from starlink42k.context import Context
from starlink42k.errors import WarehouseError
from starlink42k.settings import Settings
from support import spacex_docs as docs

DS1, DS2 = "2024-01-30", "2024-01-31"


@pytest.fixture
def ctx(tmp_path, warehouse_url) -> Context:
    """DATASETS=starlink: a load of starlink makes its ds whole, so it publishes it too."""
    env = {
        "DATA_DIR": str(tmp_path),
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "WAREHOUSE_URL": warehouse_url,
        "DATASETS": "starlink",
    }
    return Context(Settings.from_env(env))


def staged(ctx: Context, ds: str, satellites: int) -> None:
    """``satellites`` starlink documents extracted for ``ds`` and turned into the curated CSV."""
    documents = [docs.starlink(44000 + i, f"2020-001A{i}", "2020-01-07", launch_id="L1") for i in range(satellites)]
    raw = ingest.raw_json(documents)
    lakes.write_partition(ctx.lake, lakes.raw_key("spacex", "starlink", ds), raw, {}, "application/json")
    ingest.to_csv(ctx, "starlink", ds)


def table(ctx: Context, query: str) -> list[tuple]:
    with psycopg.connect(ctx.warehouse.url) as conn:
        return conn.execute(query).fetchall()


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(wh, "LOCK_WAIT_SECONDS", 1.0)
    return 1.0


@pytest.fixture
def reader(ctx) -> Iterator[psycopg.Connection]:
    """A session of another application, in an open transaction: what it reads stays locked."""
    conn = psycopg.connect(ctx.warehouse.url, application_name="a-long-report")
    yield conn
    conn.close()


def test_a_reader_of_the_load_log_holds_up_no_load(ctx, reader, short_wait):
    """raw.load_log exists with all its columns: no ALTER TABLE, which would wait for every reader (a
    dbt model reading it: issue 22's next run waited 12 minutes there)."""
    staged(ctx, DS1, 20)
    staged(ctx, DS2, 30)
    ingest.load(ctx, "starlink", DS1)
    reader.execute("select count(*) from raw.load_log")
    ingest.load(ctx, "starlink", DS2)
    assert table(ctx, "select dataset, ds::text, rows from raw.load_log order by ds") == [
        ("starlink", DS1, 20),
        ("starlink", DS2, 30),
    ]


def test_a_load_waits_for_a_reader_of_its_partition_then_names_it(ctx, reader, short_wait):
    """The reload fills its pending table beside the reader; publishing it must swap the partition the
    reader holds, so it waits LOCK_WAIT_SECONDS, names the holder and what was kept, and a publish
    once the reader is gone completes it."""
    staged(ctx, DS1, 20)
    ingest.load(ctx, "starlink", DS1)
    staged(ctx, DS1, 25)
    reader.execute("select count(*) from raw.starlink")
    started = time.monotonic()
    with pytest.raises(WarehouseError) as failed:
        ingest.load(ctx, "starlink", DS1)
    assert time.monotonic() - started < 20
    message = str(failed.value)
    assert (
        f"publishing ds {DS1} failed: waited 1s (LOCK_WAIT_SECONDS) for a transform, the loads of starlink" in message
    )
    assert f"held by pid {reader.info.backend_pid} a-long-report (idle in transaction for " in message
    assert "select count(*) from raw.starlink" in message
    assert f"ds {DS1} stays as published before; loaded and unpublished: starlink" in message
    assert f"`starlink42k publish --ds {DS1}`" in message
    reader.rollback()
    assert table(ctx, "select count(*) from raw.starlink") == [(20,)]  # the ds kept its rows
    publishing.publish(ctx, DS1)
    assert table(ctx, "select count(*) from raw.starlink") == [(25,)]


def test_adding_a_missing_load_log_column_waits_at_most_lock_wait(ctx, reader, short_wait):
    staged(ctx, DS1, 20)
    ingest.load(ctx, "starlink", DS1)
    with psycopg.connect(ctx.warehouse.url, autocommit=True) as conn:
        conn.execute("alter table raw.load_log drop column excluded_records")  # as before that release
    reader.execute("select count(*) from raw.load_log")
    with wh.session(ctx.warehouse) as conn:
        with pytest.raises(WarehouseError, match=r"waited 1s \(LOCK_WAIT_SECONDS\) for the raw schema's tables"):
            wh.create_raw_tables(conn)
        reader.rollback()
        wh.create_raw_tables(conn)
    assert table(ctx, "select count(excluded_records) from raw.load_log") == [(0,)]


def test_every_session_bounds_its_waits_and_dbt_gets_the_same(ctx, monkeypatch):
    """The CLI's sessions (connect) and dbt's (PGOPTIONS, which libpq sends for psycopg2 too)."""
    names = ("lock_timeout", "client_connection_check_interval", "idle_in_transaction_session_timeout")

    def settings(conn: psycopg.Connection) -> dict[str, str]:
        return {n: conn.execute(f"show {n}").fetchone()[0] for n in names}

    with wh.session(ctx.warehouse) as conn:
        assert settings(conn) == dict(zip(names, ("10min", "2s", "1min"), strict=True))
    monkeypatch.setenv("PGOPTIONS", ctx.warehouse.dbt_env()["PGOPTIONS"])
    with psycopg.connect(ctx.warehouse.url) as conn:
        assert settings(conn) == dict(zip(names, ("10min", "2s", "0"), strict=True))
