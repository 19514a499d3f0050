"""Point-in-time answers and the rolling backtest on the bundled sample data (both sources, CelesTrak
answering): a loop of `starlink42k run --ds` over past dates, each count checked against the raw
SATCAT records, and a backtest origin checked against the answer a run for its date gave.

Slow tier (pytest -m pipeline): four whole runs on the demo's data."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli
from starlink42k.replay import SAMPLE_DIR, ReplayServer
from support.point_in_time import backtest_rows, check_backtest, in_orbit_satcat, starlink_payloads

pytestmark = pytest.mark.pipeline

PAST = ("2021-03-31", "2023-06-30", "2025-11-20")
LATEST = "2026-11-25"  # the sample's newest record is 2026-11-20: a year before it is 2025-11-20


@pytest.fixture(scope="module")
def satcat() -> list[dict]:
    return json.loads(gzip.decompress((SAMPLE_DIR / "celestrak_satcat.json.gz").read_bytes()))


@pytest.fixture(scope="module")
def runs(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Every ds run once, in order, into one warehouse and lake; the answers and the last run's
    backtest rows and fits."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    url = pg_server.replace("/postgres?", f"/{name}?")
    tmp = tmp_path_factory.mktemp("sample")
    answers = {}
    with ReplayServer.from_directory() as server, pytest.MonkeyPatch.context() as env:
        for key, value in {
            "SPACEX_API_URL": server.spacex_url,
            "CELESTRAK_URL": server.url,
            "WAREHOUSE_URL": url,
            "LAKE_URL": (tmp / "lake").as_uri(),
            "DATA_DIR": str(tmp / "data"),
            "DATASETS": "launches,starlink,satcat",
        }.items():
            env.setenv(key, value)
        for ds in (*PAST, LATEST):
            assert cli.main(["-q", "run", "--ds", ds]) == 0
            answers[ds] = json.loads((tmp / f"lake/reports/starlink/ds={ds}/answer.json").read_bytes())
    with psycopg.connect(url) as conn:
        rows = backtest_rows(conn)
        fits = conn.execute(
            "select as_of_date::text, satellites_in_orbit, launches_per_month, satellites_per_launch_measured,"
            " decays_per_month_measured from intermediate.int_forecast_parameters__fitted"
            " where fit = 'backtest' and scenario = 'constant_cadence'"
        ).fetchall()
        series = conn.execute(
            "select ds::text, as_of_date::text, satellites_in_orbit from marts.fct_constellation_daily order by ds"
        ).fetchall()
    yield {"answers": answers, "rows": rows, "fits": {f[0]: f[1:] for f in fits}, "series": series}
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def test_each_past_ds_is_answered_as_of_that_day(runs: dict, satcat: list[dict]) -> None:
    for ds in PAST:
        answer = runs["answers"][ds]
        assert (answer["as_of"], answer["data_as_of"], answer["source"]) == (ds, "2026-11-20", "celestrak_satcat")
        assert answer["satellites_in_orbit"] == in_orbit_satcat(satcat, date.fromisoformat(ds)), ds
    latest = runs["answers"][LATEST]
    assert latest["as_of"] == "2026-11-20" and latest["satellites_in_orbit"] == in_orbit_satcat(
        satcat, date(2026, 11, 20)
    )
    counts = [runs["answers"][ds]["satellites_in_orbit"] for ds in (*PAST, LATEST)]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)  # a growing constellation, not one answer
    assert runs["series"] == [
        (ds, runs["answers"][ds]["as_of"], runs["answers"][ds]["satellites_in_orbit"]) for ds in (*PAST, LATEST)
    ]


def test_a_backtest_origin_is_the_answer_a_run_for_that_date_gave(runs: dict) -> None:
    """The latest run's backtest fit at 2025-11-20 (twelve months before its as-of date) is the answer
    of the run for 2025-11-20: the backtest is made of point-in-time answers."""
    answer = runs["answers"]["2025-11-20"]
    in_orbit, launches, per_launch, decays = runs["fits"]["2025-11-20"]
    assert in_orbit == answer["satellites_in_orbit"]
    assert launches == pytest.approx(answer["launches_per_month"], abs=0.0005)
    assert per_launch == pytest.approx(answer["satellites_per_launch"], abs=0.005)
    assert decays == pytest.approx(answer["details"]["decays_per_month"], abs=0.005)


def test_the_rolling_backtest_and_its_interval_on_the_sample(runs: dict, satcat: list[dict]) -> None:
    answer = runs["answers"][LATEST]
    first_launch = date.fromisoformat(min(r["LAUNCH_DATE"] for r in starlink_payloads(satcat) if r["LAUNCH_DATE"]))
    check_backtest(answer, runs["rows"], lambda day: in_orbit_satcat(satcat, day), first_launch)
    assert len({r["origin"] for r in runs["rows"]}) == 58  # five years of monthly origins, less the last 2
    assert {b["horizon_months"] for b in answer["backtest"] if b["coverage"] is not None} == {3, 6, 12, 24, 36}
    headline = next(s for s in answer["scenarios"] if s["is_headline"])
    assert headline["reaches_target_earliest_month"] < headline["reaches_target_latest_month"]
    # every scenario beats the naive baseline at every horizon
    assert all(b["skill_vs_naive"] > 0 for b in answer["backtest"] if b["scenario"] != "naive")


def test_the_report_and_chart_show_the_interval(runs: dict, tmp_path: Path) -> None:
    answer = runs["answers"][LATEST]
    headline = next(s for s in answer["scenarios"] if s["is_headline"])
    report = Path(answer["files"]["report.md"].removeprefix("file://")).read_text()
    interval = f"{headline['reaches_target_earliest_month']} to {headline['reaches_target_latest_month']}"
    assert interval in report and f"**Headline: {headline['scenario'].replace('_', ' ')}**" in report
    assert "Assuming rates over the last 12 months" in report
    assert f"it held {answer['interval']['coverage']:.0%}" in report
