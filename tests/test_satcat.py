"""CelesTrak SATCAT as a second source: extract in both formats, curate, load, reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli, ingest
from starlink42k import lake as lakes
from starlink42k.context import Context
from starlink42k.errors import DataQualityError, SourceResponseError
from starlink42k.http_client import HttpClient, RetryPolicy
from starlink42k.settings import Settings
from starlink42k.sources import celestrak
from support import satcat_docs as sc
from support import spacex_docs as docs
from support.replay import Fault, ScriptedReplay

DS = "2026-11-25"


def client() -> HttpClient:
    return HttpClient(RetryPolicy(max_attempts=3, backoff_seconds=0.0, timeout_seconds=5))


def catalogue() -> list[dict]:
    return [
        sc.record(44001, "2019-029A", "2019-05-24", decay_date="2020-10-13"),
        sc.record(44002, "2019-029B", "2019-05-24"),
        sc.record(44003, "2019-029C", "2019-05-24", status="Z"),  # a code the format page does not list
        sc.record(44004, "2019-029D", None),  # no launch date: cannot be placed
        sc.record(44005, "2019-029E", "24/05/2019"),  # malformed date
        sc.record(44002, "2019-029B", "2019-05-24", name="STARLINK-2 (again)"),  # duplicate NORAD number
        sc.record(44006, "2019-029F", "2019-05-24", name="STARLINK DEB", object_type="DEB"),  # not a payload
        sc.record(44007, "2019-029G", "2019-05-24", PERIOD="95.6", APOGEE=""),  # numbers as text, empty
    ]


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_extract_keeps_the_body_as_sent(fmt, tmp_path):
    with ScriptedReplay(satcat=catalogue()) as server:
        snap = celestrak.fetch(client(), server.url, fmt)
        query = server.requests[0]["query"]
    assert "NAME=STARLINK" in query and f"FORMAT={fmt.upper()}" in query
    documents = list(snap.documents())
    assert snap.records == len(documents) == 8 and snap.raw_format == fmt
    if fmt == "csv":
        assert snap.read().startswith(b"OBJECT_NAME,OBJECT_ID,NORAD_CAT_ID,")
        assert documents[0]["NORAD_CAT_ID"] == "44001" and documents[0]["DECAY_DATE"] == "2020-10-13"
        assert documents[1]["DECAY_DATE"] is None  # an empty CSV field is null
    else:
        assert json.loads(snap.read()) == documents == catalogue()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_to_csv_keeps_unknown_codes_and_rejects_bad_records(fmt, tmp_path):
    env = {
        "DATA_DIR": str(tmp_path),
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "CELESTRAK_FORMAT": fmt,
        "REJECT_THRESHOLD": "0.5",
    }
    with ScriptedReplay(satcat=catalogue()) as server:
        ctx = Context(Settings.from_env({**env, "CELESTRAK_URL": server.url}))
        raw = ingest.extract(ctx, "satcat", DS)
    assert raw["object"] == f"satcat.{fmt}" and raw["format"] == fmt
    manifest = ingest.to_csv(ctx, "satcat", DS)
    assert (manifest["rows"], manifest["rejects"], manifest["excluded"]) == (4, 3, 1)
    csv_text = ctx.lake.get_bytes(lakes.curated_key("celestrak", "satcat", DS)).decode()
    assert ',"Z","unrecognised",' in csv_text
    assert ",95.6," in csv_text
    rejects = [
        json.loads(line) for line in ctx.lake.get_bytes(lakes.rejects_key("celestrak", "satcat", DS)).splitlines()
    ]
    assert [r["reason"] for r in rejects] == [
        "LAUNCH_DATE: missing",
        "LAUNCH_DATE: '24/05/2019' is not a date (YYYY-MM-DD)",
        "norad_id: duplicate 44002",
    ]


def test_a_rerun_in_the_other_format_replaces_the_raw_object(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "LAKE_URL": (tmp_path / "lake").as_uri(), "REJECT_THRESHOLD": "0.5"}
    with ScriptedReplay(satcat=catalogue()) as server:
        for fmt in ("json", "csv"):
            ctx = Context(Settings.from_env({**env, "CELESTRAK_URL": server.url, "CELESTRAK_FORMAT": fmt}))
            ingest.extract(ctx, "satcat", DS)
    assert ctx.lake.list(f"raw/celestrak/satcat/ds={DS}/") == [
        f"raw/celestrak/satcat/ds={DS}/_manifest.json",
        f"raw/celestrak/satcat/ds={DS}/satcat.csv",
    ]


def test_too_many_bad_records_fail(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "LAKE_URL": (tmp_path / "lake").as_uri()}
    with ScriptedReplay(satcat=catalogue()) as server:
        ctx = Context(Settings.from_env({**env, "CELESTRAK_URL": server.url}))
        ingest.extract(ctx, "satcat", DS)
    with pytest.raises(DataQualityError, match=r"satcat: 3 of 7 records rejected"):
        ingest.to_csv(ctx, "satcat", DS)


@pytest.mark.parametrize(
    ("body", "fmt", "problem"),
    [
        (b"No SATCAT records found", "json", None),
        (b"<html>rate limited</html>", "json", r"not valid JSON"),
        (b'{"error": "x"}', "json", r"expected a JSON array"),
        (b"NAME,ID\nx,y\n", "csv", r"no NORAD_CAT_ID column"),
    ],
)
def test_unexpected_bodies_fail_clearly(body, fmt, problem):
    with ScriptedReplay(satcat=catalogue()) as server:
        server.add_fault("/satcat", Fault(200, body=body))
        if problem is None:
            assert celestrak.fetch(client(), server.url, fmt).records == 0
        else:
            with pytest.raises(SourceResponseError, match=problem):
                celestrak.fetch(client(), server.url, fmt)


def test_an_empty_catalogue_is_refused_before_anything_is_written(tmp_path):
    env = {"DATA_DIR": str(tmp_path), "LAKE_URL": (tmp_path / "lake").as_uri()}
    with ScriptedReplay(satcat=[]) as server:
        ctx = Context(Settings.from_env({**env, "CELESTRAK_URL": server.url}))
        with pytest.raises(SourceResponseError, match="returned no satcat documents"):
            ingest.extract(ctx, "satcat", DS)
    assert ctx.lake.list("raw/") == []


def overlap_fixture() -> tuple[dict, list[dict]]:
    """SpaceX API: launches A (2022-01-06, NORAD 1-4) and B (2022-09-10, NORAD 5-8), frozen on
    2022-10-01. SATCAT (to 2026-11-20): NORAD 3-8 (so 1-2 only in the API, 3-8 in both), 7 decayed
    on 2025-03-01, plus C (2023-02-02, NORAD 9-10) and D (2026-11-20, NORAD 11-13) after the API's end."""
    a = docs.launch(1, "Starlink 4-5 (v1.5)", "2022-01-06T21:49:00")
    b = docs.launch(2, "Starlink 4-20 (v1.5)", "2022-09-10T01:10:00")
    epoch = "2022-10-01 00:00:00"
    sats = [
        docs.starlink(n, f"2022-001{'ABCD'[n - 1]}", "2022-01-06", launch_id=a["id"], epoch=epoch) for n in (1, 2, 3, 4)
    ]
    sats += [
        docs.starlink(n, f"2022-099{'ABCD'[n - 5]}", "2022-09-10", launch_id=b["id"], epoch=epoch) for n in (5, 6, 7, 8)
    ]
    cat = [sc.record(n, f"2022-001{'ABCD'[n - 1]}", "2022-01-06") for n in (3, 4)]
    cat += [
        sc.record(n, f"2022-099{'ABCD'[n - 5]}", "2022-09-10", decay_date="2025-03-01" if n == 7 else None)
        for n in (5, 6, 7, 8)
    ]
    cat += [sc.record(n, f"2023-015{'AB'[n - 9]}", "2023-02-02") for n in (9, 10)]
    cat += [sc.record(n, f"2026-301{'ABC'[n - 11]}", "2026-11-20") for n in (11, 12, 13)]
    return {"launches": [a, b], "starlink": sats}, cat


@pytest.mark.pipeline  # whole runs of its own
def test_reconciliation_and_the_freshest_source(monkeypatch, pipeline_env):
    api, cat = overlap_fixture()
    monkeypatch.setenv("DATASETS", "launches,starlink,satcat")
    with ScriptedReplay(spacex=api, satcat=cat) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        monkeypatch.setenv("CELESTRAK_URL", server.url)
        assert cli.main(["run", "--ds", DS]) == 0
    lake = Path(pipeline_env["LAKE_URL"].removeprefix("file://"))
    answer = json.loads((lake / f"reports/starlink/ds={DS}/answer.json").read_bytes())

    assert answer["source"] == "celestrak_satcat" and answer["as_of"] == "2026-11-20"
    assert {s["name"]: s["as_of"] for s in answer["sources"]} == {
        "celestrak_satcat": "2026-11-20",
        "spacex_api": "2022-10-01",
    }
    # SATCAT lists 3-13; 7 decayed: 10 in orbit. 1 and 2 (only in the API) are not counted.
    assert answer["satellites_in_orbit"] == 10
    # last 12 months (2025-11-20, 2026-11-20]: launch D only, derived from its COSPAR designator
    assert answer["details"]["launches_in_trailing_window"] == 1 and answer["satellites_per_launch"] == 3.0
    assert answer["details"]["starlink_launches"] == 4  # A and B from the API, C and D from COSPAR
    assert answer["stale"] is False

    with psycopg.connect(pipeline_env["WAREHOUSE_URL"]) as conn:
        rec = conn.execute(
            "select launch_month::text, satellites_in_spacex_api, satellites_in_satcat, satellites_in_both, "
            "satellites_only_in_spacex_api, satellites_only_in_satcat from marts.fct_source_reconciliation "
            "order by 1"
        ).fetchall()
        launches = conn.execute(
            "select launch_name, launch_source, satellites_carried from marts.dim_launches order by launch_date"
        ).fetchall()
    assert rec == [("2022-01-01", 4, 2, 2, 2, 0), ("2022-09-01", 4, 4, 4, 0, 0)]
    assert launches == [
        ("Starlink 4-5 (v1.5)", "spacex_api", 2),
        ("Starlink 4-20 (v1.5)", "spacex_api", 4),
        ("Starlink (COSPAR 2023-015)", "cospar", 2),
        ("Starlink (COSPAR 2026-301)", "cospar", 3),
    ]


@pytest.mark.pipeline  # whole runs of its own
def test_satcat_can_be_switched_off(monkeypatch, pipeline_env):
    api, cat = overlap_fixture()
    with ScriptedReplay(spacex=api, satcat=cat) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        monkeypatch.setenv("CELESTRAK_URL", server.url)
        monkeypatch.setenv("DATASETS", "launches,starlink,satcat")
        assert cli.main(["run", "--ds", "2026-11-24"]) == 0  # an earlier run loaded SATCAT
        server.requests.clear()
        monkeypatch.setenv("DATASETS", "launches,starlink")
        assert cli.main(["run", "--ds", DS]) == 0
        assert not any(r["path"].startswith("/satcat") for r in server.requests)
    lake = Path(pipeline_env["LAKE_URL"].removeprefix("file://"))
    answer = json.loads((lake / f"reports/starlink/ds={DS}/answer.json").read_bytes())
    assert answer["source"] == "spacex_api" and [s["name"] for s in answer["sources"]] == ["spacex_api"]
    assert answer["satellites_in_orbit"] == 8 and answer["as_of"] == "2022-10-01"
