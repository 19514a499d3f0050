"""`starlink42k status`: the pipeline's own figures per ds, read back from a real warehouse after real
runs (API replay → lake → PostgreSQL → dbt), checked against what the sources sent."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli
from starlink42k.replay import ReplayServer
from support import satcat_docs as sc

DS1, DS2 = "2024-01-30", "2024-01-31"
REJECTED = 3  # satellites without a launch date: rejected by to-csv (3 of 1,234 is under REJECT_THRESHOLD)
DEBRIS = 2  # SATCAT objects of the name search that are not Starlink payloads: excluded, not rejected


def sources(api_docs: dict) -> tuple[dict, list[dict]]:
    spacex = copy.deepcopy(api_docs)
    for doc in spacex["starlink"][:REJECTED]:
        doc["spaceTrack"]["LAUNCH_DATE"] = None
    satcat = [
        sc.record(t["NORAD_CAT_ID"], t["OBJECT_ID"], t["LAUNCH_DATE"], decay_date=t["DECAY_DATE"])
        for t in (d["spaceTrack"] for d in api_docs["starlink"])
    ]
    satcat += [
        sc.record(90000 + i, f"2020-001{'XY'[i]}", "2020-01-07", name="STARLINK DEB", object_type="DEB")
        for i in range(DEBRIS)
    ]
    return spacex, satcat


def run(monkeypatch, api_docs: dict, *days: str) -> Path:
    spacex, satcat = sources(api_docs)
    monkeypatch.setenv("DATASETS", "launches,starlink,satcat")
    with ReplayServer(spacex=spacex, satcat=satcat) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        monkeypatch.setenv("CELESTRAK_URL", server.url)
        for ds in days:  # the fixtures' SATCAT is years older than these ds: stale, and said so
            assert cli.main(["run", "--ds", ds, "--allow-stale"]) == 0
    return Path(os.environ["LAKE_URL"].removeprefix("file://"))


def status(capsys, *args: str) -> dict:
    capsys.readouterr()
    assert cli.main(["status", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.pipeline  # whole runs of its own
def test_status_reports_fetched_rejected_excluded_loaded_and_the_answer(monkeypatch, pipeline_env, api_docs, capsys):
    lake = run(monkeypatch, api_docs, DS1, DS2)
    report = status(capsys)
    assert [d["ds"] for d in report["ds"]] == [DS2, DS1]  # newest first
    assert report["warehouse"].startswith("postgresql://")
    for day in report["ds"]:
        figures = {d["dataset"]: d for d in day["datasets"]}
        assert set(figures) == {"launches", "starlink", "satcat"}
        satellites = len(api_docs["starlink"])
        assert (figures["starlink"]["fetched"], figures["starlink"]["rejected"], figures["starlink"]["loaded"]) == (
            satellites,
            REJECTED,
            satellites - REJECTED,
        )
        assert (figures["satcat"]["fetched"], figures["satcat"]["excluded"], figures["satcat"]["loaded"]) == (
            satellites + DEBRIS,
            DEBRIS,
            satellites,
        )
        assert figures["launches"]["fetched"] == figures["launches"]["loaded"] > 0
        for d in figures.values():
            # Every record fetched is accounted for: loaded, rejected with a reason, or outside the selection.
            assert d["fetched"] == d["loaded"] + d["rejected"] + d["excluded"], d
            manifest = json.loads((lake / f"raw/{'celestrak' if d['dataset'] == 'satcat' else 'spacex'}/"
                                   f"{d['dataset']}/ds={day['ds']}/_manifest.json").read_bytes())  # fmt: skip
            assert d["fetched"] == manifest["record_count"]
        # The snapshot's answer is the one answer.json gives for that ds.
        answer = json.loads((lake / f"reports/starlink/ds={day['ds']}/answer.json").read_bytes())
        assert day["satellites_in_orbit"] == answer["satellites_in_orbit"]
        months = {s["scenario"]: s["reaches_target_month"] for s in answer["scenarios"]}
        for scenario in ("constant_cadence", "trend_cadence"):  # a date in the mart, YYYY-MM in the answer
            assert (day[f"{scenario}_reaches_target_month"] or "")[:7] == (months[scenario] or ""), scenario
    assert [d["ds"] for d in status(capsys, "--last", "1")["ds"]] == [DS2]

    capsys.readouterr()
    assert cli.main(["status"]) == 0
    text = capsys.readouterr().out
    assert f"ds {DS2}  in orbit {report['ds'][0]['satellites_in_orbit']:,}" in text
    assert "dataset      fetched  rejected  excluded    loaded  loaded at" in text
    assert f"  starlink       {satellites:,}         {REJECTED}         0     {satellites - REJECTED:,}" in text


@pytest.mark.pipeline  # whole runs of its own
def test_status_of_loads_recorded_before_the_counts(monkeypatch, pipeline_env, api_docs, capsys):
    """A raw.load_log from before the counts were recorded: its loads show '-', nothing fails."""
    run(monkeypatch, api_docs, DS1)
    with psycopg.connect(pipeline_env["WAREHOUSE_URL"], autocommit=True) as conn:
        conn.execute(
            "alter table raw.load_log drop column fetched_records cascade, drop column rejected_records cascade,"
            " drop column excluded_records cascade"  # cascade: and the staging view over them
        )
    (day,) = status(capsys)["ds"]
    assert {(d["fetched"], d["rejected"], d["excluded"]) for d in day["datasets"]} == {(None, None, None)}
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    assert "  starlink           -         -         -" in capsys.readouterr().out


def test_status_before_anything_is_loaded_says_what_to_run(pipeline_env, capsys):
    assert cli.main(["status"]) == 0
    assert "nothing loaded yet" in capsys.readouterr().out
    assert status(capsys) == {"warehouse": status(capsys)["warehouse"], "ds": []}


def test_status_says_what_of_a_ds_is_not_published(monkeypatch, pipeline_env, api_docs, capsys):
    """One dataset of three loaded: the ds is not published, and status says what is missing."""
    monkeypatch.setenv("DATASETS", "launches,starlink,satcat")
    with ReplayServer(spacex=api_docs) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        for step in ("extract", "to-csv", "load"):
            assert cli.main([step, "launches", "--ds", DS1]) == 0
    (day,) = status(capsys)["ds"]
    assert [(d["dataset"], d["published"]) for d in day["datasets"]] == [("launches", False)]
    assert day["unpublished"] == (
        f"ds {DS1} is not published; loaded and unpublished: launches; not loaded: starlink, satcat; "
        "a rerun completes and publishes it"
    )
    capsys.readouterr()
    assert cli.main(["status"]) == 0
    text = capsys.readouterr().out
    assert f"ds {DS1}  no answer for this ds: it is not published\n  {day['unpublished']}\n" in text
    assert text.rstrip().endswith("unpublished")  # the launches row
