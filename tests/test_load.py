"""Loading into real PostgreSQL: one transaction per ds, idempotent, atomic, schema-tolerant.

DATASETS is starlink alone here, so each load completes its ds and publishes it (tests/test_publish.py
has the ds of several datasets)."""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import replace

import psycopg
import pytest

from starlink42k import datasets, ingest
from starlink42k import lake as lakes
from starlink42k import warehouse as wh
from starlink42k.context import Context
from starlink42k.errors import WarehouseError
from starlink42k.settings import Settings
from support import spacex_docs as docs

DS1, DS2 = "2024-01-30", "2024-01-31"


@pytest.fixture
def ctx(tmp_path, warehouse_url) -> Context:
    env = {
        "DATA_DIR": str(tmp_path),
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "WAREHOUSE_URL": warehouse_url,
        "DATASETS": "starlink",
    }
    return Context(Settings.from_env(env))


def stage(ctx: Context, documents: list, ds: str, dataset: str = "starlink") -> None:
    """extract's output for ``ds`` written directly, then the real to-csv step."""
    key = lakes.raw_key("spacex", dataset, ds)
    lakes.write_partition(
        ctx.lake, key, ingest.raw_json(documents), {"record_count": len(documents)}, "application/json"
    )
    ingest.to_csv(ctx, dataset, ds)


def table(ctx: Context, sql: str, *params) -> list[tuple]:
    with psycopg.connect(ctx.warehouse.url) as conn:
        return conn.execute(sql, params or None).fetchall()


def sats(n: int, offset: int = 0) -> list[dict]:
    return [
        docs.starlink(
            44000 + offset + i,
            f"2020-001A{i}",
            "2020-01-07",
            launch_id="L1",
            decay_date="2021-01-01" if i % 4 == 0 else None,
        )
        for i in range(n)
    ]


def test_load_replaces_one_ds_and_a_rerun_is_identical(ctx):
    stage(ctx, sats(50), DS1)
    ingest.load(ctx, "starlink", DS1)
    first = table(ctx, "select * from raw.starlink order by id")
    ingest.load(ctx, "starlink", DS1)
    assert table(ctx, "select * from raw.starlink order by id") == first
    assert len(first) == 50
    assert table(ctx, "select count(*) from raw.starlink where decayed") == [(13,)]
    assert table(ctx, "select dataset, ds::text, rows from raw.load_log") == [("starlink", DS1, 50)]


def test_two_ds_coexist_and_reloading_one_leaves_the_other(ctx):
    stage(ctx, sats(50), DS1)
    stage(ctx, sats(70), DS2)
    ingest.load(ctx, "starlink", DS1)
    ingest.load(ctx, "starlink", DS2)
    stage(ctx, sats(60), DS2)
    ingest.load(ctx, "starlink", DS2)
    assert table(ctx, "select ds::text, count(*) from raw.starlink group by ds order by ds") == [
        (DS1, 50),
        (DS2, 60),
    ]
    partitions = table(
        ctx,
        "select inhrelid::regclass::text from pg_inherits where inhparent = 'raw.starlink'::regclass order by 1",
    )
    assert partitions == [("raw.starlink_20240130",), ("raw.starlink_20240131",)]


def test_a_failure_mid_load_keeps_the_previous_ds(ctx):
    stage(ctx, sats(50), DS1)
    ingest.load(ctx, "starlink", DS1)
    before = table(ctx, "select * from raw.starlink order by id")

    # A CSV whose 40th row cannot be typed: COPY fails after 39 rows went in.
    csv_key = lakes.curated_key("spacex", "starlink", DS1)
    lines = ctx.lake.get_bytes(csv_key).decode().splitlines(keepends=True)
    lines[40] = lines[40].replace(",44039,", ",not-a-number,")
    broken = "".join(lines).encode()
    lakes.write_partition(ctx.lake, csv_key, broken, {"rows": 50}, "text/csv")
    with pytest.raises(WarehouseError) as err:
        ingest.load(ctx, "starlink", DS1)
    assert re.search(
        r"failed: .*invalid input syntax for type integer.*; nothing of this load was kept", str(err.value)
    )
    assert (
        f"ds {DS1} stays as published before; not loaded: starlink. Readers see its published data; a rerun "
        f"(`starlink42k load starlink --ds {DS1}`) completes and publishes it." in str(err.value)
    )
    assert table(ctx, "select * from raw.starlink order by id") == before
    assert table(ctx, "select count(*) from pg_tables where tablename ~ '__(loading|pending)$'") == [(0,)]


class FailingStream(io.BytesIO):
    """A source that breaks after some bytes, like a dropped S3 connection."""

    def __init__(self, data: bytes, fail_after: int):
        super().__init__(data)
        self.fail_after = fail_after

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(min(size, 1000) if size > 0 else 1000)


def test_a_broken_stream_rolls_back(ctx):
    stage(ctx, sats(50), DS1)
    ingest.load(ctx, "starlink", DS1)
    before = table(ctx, "select * from raw.starlink order by id")
    data = ctx.lake.get_bytes(lakes.curated_key("spacex", "starlink", DS1))
    with psycopg.connect(ctx.warehouse.url, autocommit=True) as conn, pytest.raises(ConnectionResetError):
        wh.load_csv(
            conn,
            datasets.get("starlink"),
            DS1,
            FailingStream(data, 5000),
            expected_rows=50,
            expected_sha256=hashlib.sha256(data).hexdigest(),
            source_uri="test://broken",
        )
    assert table(ctx, "select * from raw.starlink order by id") == before


def test_a_checksum_mismatch_rolls_back(ctx):
    stage(ctx, sats(5), DS1)
    data = ctx.lake.get_bytes(lakes.curated_key("spacex", "starlink", DS1))
    with psycopg.connect(ctx.warehouse.url, autocommit=True) as conn:
        with pytest.raises(WarehouseError, match="does not match its manifest's sha256"):
            wh.load_csv(
                conn,
                datasets.get("starlink"),
                DS1,
                io.BytesIO(data),
                expected_rows=5,
                expected_sha256="0" * 64,
                source_uri="test://x",
            )
        assert conn.execute("select to_regclass('raw.starlink_20240130')").fetchone() == (None,)


def test_a_new_column_in_the_csv_is_added_not_fatal(ctx):
    stage(ctx, sats(3), DS1)
    ingest.load(ctx, "starlink", DS1)
    data = ctx.lake.get_bytes(lakes.curated_key("spacex", "starlink", DS1)).decode().splitlines()
    widened = "\n".join([data[0] + ",shell_number"] + [line + ",4" for line in data[1:]]) + "\n"
    with psycopg.connect(ctx.warehouse.url, autocommit=True) as conn:
        wh.load_csv(
            conn,
            datasets.get("starlink"),
            DS2,
            io.BytesIO(widened.encode()),
            expected_rows=3,
            expected_sha256=hashlib.sha256(widened.encode()).hexdigest(),
            source_uri="test://wide",
        )
        assert wh.publish_ds(conn, DS2, ("starlink",))[1] == ("starlink",)
    got = table(ctx, "select ds::text, count(*), count(shell_number) from raw.starlink group by ds order by ds")
    assert got == [(DS1, 3, 0), (DS2, 3, 3)]


def test_a_column_name_that_is_not_an_identifier_is_refused(ctx):
    bad = b'id,"x; drop table raw.load_log"\n"a",1\n'
    with (
        psycopg.connect(ctx.warehouse.url, autocommit=True) as conn,
        pytest.raises(WarehouseError, match="not a valid column name"),
    ):
        wh.load_csv(
            conn,
            datasets.get("starlink"),
            DS1,
            io.BytesIO(bad),
            expected_rows=1,
            expected_sha256=hashlib.sha256(bad).hexdigest(),
            source_uri="test://bad",
        )


def test_load_needs_the_curated_manifest(ctx):
    with pytest.raises(Exception, match=r"run `starlink42k to-csv starlink --ds 2024-01-30` for this ds first"):
        ingest.load(ctx, "starlink", DS1)


def test_a_bad_warehouse_url_fails_clearly(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "WAREHOUSE_URL": "postgresql://u:secret@127.0.0.1:1/db"}
    ctx = Context(Settings.from_env(env))
    with pytest.raises(WarehouseError) as err:
        wh.connect(ctx.warehouse)
    assert "cannot connect to the warehouse postgresql://u:***@127.0.0.1:1/db" in str(err.value)
    assert "secret" not in str(err.value)


def test_parallel_loads_of_different_datasets_on_a_fresh_warehouse(ctx):
    """The DAG loads datasets in parallel; the first loads race to create the raw tables."""
    from concurrent.futures import ThreadPoolExecutor

    ctx = Context(replace(ctx.settings, datasets=("launches", "starlink")))
    stage(ctx, sats(20), DS1)
    stage(ctx, [docs.launch(i, f"L{i}", "2020-01-07T00:00:00") for i in range(1, 6)], DS1, dataset="launches")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda name: ingest.load(ctx, name, DS1), ["starlink", "launches"]))
    assert [r.rows for r in results] == [20, 5]
    tables = table(
        ctx, "select tablename from pg_tables where schemaname = 'raw' and tablename not like '%\\_2%' order by 1"
    )
    assert tables == [
        ("launches",),
        ("load_log",),
        ("load_pending",),
        ("satcat",),
        ("source_freshness",),
        ("starlink",),
    ]
    # whichever finished second published both
    assert table(ctx, "select dataset, ds::text, rows from raw.load_log order by 1") == [
        ("launches", DS1, 5),
        ("starlink", DS1, 20),
    ]
    assert table(ctx, "select count(*) from raw.load_pending") == [(0,)]
