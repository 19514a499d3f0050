"""Raw documents → typed CSV: both date formats, JSON text for nested arrays, rejects with reasons."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime

import pytest

from starlink42k import convert as v
from starlink42k import datasets, ingest
from starlink42k import lake as lakes
from starlink42k.context import Context
from starlink42k.curate import write_csv
from starlink42k.errors import DataQualityError
from starlink42k.settings import Settings
from support import spacex_docs as docs


def rows(dataset: str, documents: list) -> tuple[list[dict], list[dict]]:
    out = io.StringIO()
    result = write_csv(datasets.get(dataset), documents, out)
    out.seek(0)
    return list(csv.DictReader(out)), result.rejects


def test_both_spacex_date_formats_parse_to_utc():
    assert v.timestamp("2020-10-13 02:56:59.566560", "f") == datetime(2020, 10, 13, 2, 56, 59, 566560, UTC)
    assert v.timestamp("2020-10-13T02:56:59", "f") == datetime(2020, 10, 13, 2, 56, 59, tzinfo=UTC)
    assert v.timestamp("2019-05-24T02:30:00.000Z", "f") == datetime(2019, 5, 24, 2, 30, tzinfo=UTC)
    assert v.timestamp("2019-05-23T22:30:00-04:00", "f") == datetime(2019, 5, 24, 2, 30, tzinfo=UTC)
    assert v.day("2019-05-24", "f") == date(2019, 5, 24)
    assert v.day("2019-05-24 23:59:59", "f") == date(2019, 5, 24)


@pytest.mark.parametrize(
    ("func", "value", "reason"),
    [
        (v.timestamp, "24/05/2019", "not a date-time"),
        (v.day, "2019-13-01", "not a date"),
        (v.integer, "12a", "expected an integer"),
        (v.integer, True, "got a boolean"),
        (v.number, "NaN", "not a finite number"),
        (v.boolean, 2, "expected a boolean"),
        (v.text, 5, "expected a string"),
    ],
)
def test_converters_refuse_what_they_cannot_type(func, value, reason):
    with pytest.raises(v.Reject, match=reason):
        func(value, "field")


def test_starlink_rows_are_typed_and_flat():
    sats = [
        docs.starlink(
            44001,
            "2019-029A",
            "2019-05-24",
            launch_id="L1",
            decay_date="2020-10-13",
            version="v0.9",
            epoch="2020-10-13 02:56:59.566560",
        ),
        docs.starlink(
            44002,
            "2019-074B",
            "2019-11-11",
            launch_id=None,
            iso_dates=True,
            epoch="2022-10-20 01:02:03.500000",
        ),
    ]
    out, rejects = rows("starlink", sats)
    assert rejects == []
    first, second = out
    assert first["id"] == sats[0]["id"] and first["norad_id"] == "44001"
    assert first["object_id"] == "2019-029A" and first["version"] == "v0.9"
    assert (first["launch_date"], first["decay_date"], first["decayed"]) == (
        "2019-05-24",
        "2020-10-13",
        "true",
    )
    assert first["epoch"] == "2020-10-13T02:56:59.566560+00:00"
    assert first["height_km"] == "" and second["height_km"] == "547.8"
    assert second["launch_id"] == "" and second["epoch"] == "2022-10-20T01:02:03.500000+00:00"
    assert set(first) == set(datasets.get("starlink").column_names)


def test_launch_arrays_stay_json_text():
    doc = docs.launch(7, "Starlink-1 (v1.0)", "2019-11-11T14:56:00", payloads=2)
    (row,), _ = rows("launches", [doc])
    assert json.loads(row["payload_ids"]) == doc["payloads"]
    assert json.loads(row["cores"]) == doc["cores"]
    assert "'" not in row["cores"]  # never a Python repr
    assert row["date_utc"] == "2019-11-11T14:56:00+00:00" and row["upcoming"] == "false"
    assert row["core_landing_type"] == "ASDS" and row["payload_count"] == "2"


def test_null_is_empty_and_empty_text_is_quoted():
    doc = docs.launch(1, "", "2006-03-24T22:30:00", success=None, details=None)
    out = io.StringIO()
    write_csv(datasets.get("launches"), [doc], out)
    line = out.getvalue().splitlines()[1]
    assert ',"",' in line  # name: empty string, not NULL
    assert line.endswith(",")  # details: NULL


def test_fields_the_api_adds_later_are_ignored():
    doc = docs.starlink(44001, "2019-029A", "2019-05-24", launch_id="L1", new_field={"x": 1})
    doc["spaceTrack"]["NEW_ELEMENT"] = 3
    out, rejects = rows("starlink", [doc])
    assert len(out) == 1 and rejects == []


def test_bad_records_go_to_rejects_with_their_reason():
    good = docs.starlink(44001, "2019-029A", "2019-05-24", launch_id="L1")
    bad_date = docs.starlink(44002, "2019-029B", "2019-05-24", launch_id="L1")
    bad_date["spaceTrack"]["LAUNCH_DATE"] = "24 May 2019"
    no_track = docs.starlink(44003, "2019-029C", "2019-05-24", launch_id="L1", spaceTrack=None)
    out, rejects = rows("starlink", [good, bad_date, no_track, good, "junk"])
    assert [r["id"] for r in out] == [good["id"]]
    assert [(r["index"], r["reason"]) for r in rejects] == [
        (1, "spaceTrack.LAUNCH_DATE: '24 May 2019' is not a date (YYYY-MM-DD)"),
        (2, "spaceTrack: missing (no catalogue data to place the satellite)"),
        (3, f"id: duplicate {good['id']!r}"),
        (4, "expected a JSON object, got str"),
    ]
    assert rejects[0]["record"] == bad_date


def _ctx(tmp_path, **env) -> Context:
    base = {"DATA_DIR": str(tmp_path), "LAKE_URL": (tmp_path / "lake").as_uri()}
    return Context(Settings.from_env({**base, **env}))


def _write_raw(ctx, dataset, documents, ds):
    key = lakes.raw_key("spacex", dataset, ds)
    lakes.write_partition(
        ctx.lake, key, ingest.raw_json(documents), {"record_count": len(documents)}, "application/json"
    )


def test_to_csv_step_writes_csv_rejects_and_manifest(tmp_path):
    ctx = _ctx(tmp_path)
    sats = [docs.starlink(44000 + i, f"2020-001{chr(65 + i)}", "2020-01-07", launch_id="L") for i in range(20)]
    sats[3]["spaceTrack"]["DECAYED"] = "maybe"
    _write_raw(ctx, "starlink", sats, "2024-01-31")
    manifest = ingest.to_csv(_ctx(tmp_path, REJECT_THRESHOLD="0.1"), "starlink", "2024-01-31")
    assert manifest["rows"] == 19 and manifest["rejects"] == 1
    rejects = ctx.lake.get_bytes("rejects/spacex/starlink/ds=2024-01-31/starlink.jsonl").decode().splitlines()
    assert "spaceTrack.DECAYED" in json.loads(rejects[0])["reason"]


def test_too_many_rejects_fail_and_keep_the_previous_csv(tmp_path):
    ctx = _ctx(tmp_path)
    sats = [docs.starlink(44000 + i, f"2020-001{chr(65 + i)}", "2020-01-07", launch_id="L") for i in range(10)]
    _write_raw(ctx, "starlink", sats, "2024-01-31")
    before = ingest.to_csv(ctx, "starlink", "2024-01-31")
    csv_key = "curated/spacex/starlink/ds=2024-01-31/starlink.csv"
    old = ctx.lake.get_bytes(csv_key)

    for s in sats[:2]:
        s["spaceTrack"]["NORAD_CAT_ID"] = "n/a"
    _write_raw(ctx, "starlink", sats, "2024-01-31")
    with pytest.raises(DataQualityError, match=r"2 of 10 records rejected \(20.0%\), above REJECT_THRESHOLD=0.01"):
        ingest.to_csv(ctx, "starlink", "2024-01-31")
    assert ctx.lake.get_bytes(csv_key) == old
    assert lakes.read_manifest(ctx.lake, csv_key, "") == before
    assert len(ctx.lake.get_bytes("rejects/spacex/starlink/ds=2024-01-31/starlink.jsonl").splitlines()) == 2


def test_a_satellite_needs_a_unique_norad_number_and_a_launch_date():
    first = docs.starlink(44001, "2019-029A", "2019-05-24", launch_id="L1")
    twin = docs.starlink(44001, "2019-029B", "2019-05-24", launch_id="L1", id="another-record-id")
    undated = docs.starlink(44002, "2019-029C", "2019-05-24", launch_id="L1")
    undated["spaceTrack"]["LAUNCH_DATE"] = None
    out, rejects = rows("starlink", [first, twin, undated])
    assert [r["norad_id"] for r in out] == ["44001"]
    assert [r["reason"] for r in rejects] == ["norad_id: duplicate 44001", "spaceTrack.LAUNCH_DATE: missing"]


def test_to_csv_sweeps_the_scratch_folders_of_to_csv_processes_that_are_gone(tmp_path, monkeypatch):
    """A to-csv killed mid-way leaves its scratch folder in TMPDIR; the next one removes it once its
    owner is gone, and never a live one's, nor another host's within a day."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    me = lakes.owner_tag()
    host = me.rpartition("-")[0]
    folders = {
        "dead": scratch / f"{ingest.SCRATCH_PREFIX}{host}-{int(dead.stdout)}.abc123",
        "alive": scratch / f"{ingest.SCRATCH_PREFIX}{me}.def456",
        "other host, today": scratch / f"{ingest.SCRATCH_PREFIX}elsewhere-1.ghi789",
        "other host, days ago": scratch / f"{ingest.SCRATCH_PREFIX}elsewhere-2.jkl012",
        "not ours": scratch / "starlink42k-pg-xyz",
    }
    for folder in folders.values():
        folder.mkdir()
        (folder / "starlink.csv").write_text("half a CSV")
    old = time.time() - lakes.STALE_TMP_SECONDS - 60
    os.utime(folders["other host, days ago"], (old, old))

    ctx = _ctx(tmp_path)
    _write_raw(ctx, "starlink", [docs.starlink(44000, "2020-001A", "2020-01-07", launch_id="L")], "2024-01-31")
    ingest.to_csv(ctx, "starlink", "2024-01-31")
    assert {name for name, folder in folders.items() if folder.exists()} == {"alive", "other host, today", "not ours"}
    assert sorted(p.name for p in scratch.iterdir() if p not in folders.values()) == []  # its own, removed
