"""The answer end to end: the API replay → lake → warehouse → real dbt → answer.json and chart,
checked against numbers worked out by hand and against an independent computation."""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli
from starlink42k.answer import Answer
from starlink42k.lake import report_prefix
from starlink42k.render import summary_text
from starlink42k.replay import ReplayServer
from support import spacex_docs as docs
from support.expected import independent_answer
from support.golden import Run, whole_run

DS = "2024-01-31"


def hand_fixture() -> dict[str, list[dict]]:
    """A small history whose answer is worked out by hand below."""
    f2 = docs.launch(2, "Starlink v0.9", "2019-05-24T02:30:00")
    f3 = docs.launch(3, "Starlink-1 (v1.0)", "2021-11-13T12:19:00")
    f5 = docs.launch(5, "Starlink 4-5 (v1.5)", "2022-05-14T20:40:00")
    launches = [
        docs.launch(1, "FalconSat", "2006-03-24T22:30:00", success=False),
        f2,
        f3,
        docs.launch(4, "CRS-24", "2021-12-21T10:07:00"),
        f5,
        docs.launch(6, "Starlink 4-36 (v1.5)", "2022-11-20T00:00:00", upcoming=True, precision="month"),
        docs.launch(7, "Starlink 9-9", "2022-09-01T00:00:00", upcoming=True, precision="day"),
    ]
    epoch = "2022-10-25 06:00:00.000000"
    sats = [
        # v0.9: one decayed long ago, one decayed in the window, one in orbit without a launch link
        docs.starlink(
            44001,
            "2019-029A",
            "2019-05-24",
            launch_id=f2["id"],
            decay_date="2020-01-10",
            epoch="2020-01-09 00:00:00",
        ),
        docs.starlink(
            44002,
            "2019-029B",
            "2019-05-24",
            launch_id=f2["id"],
            decay_date="2022-09-01",
            epoch="2022-08-31 00:00:00",
        ),
        docs.starlink(44003, "2019-029C", "2019-05-24", launch_id=None, epoch=epoch),
        # a launch the API linked to none of its satellites; one decayed with no decay date
        docs.starlink(48001, "2021-101A", "2021-11-13", launch_id=None, epoch=epoch, iso_dates=True),
        docs.starlink(48002, "2021-101B", "2021-11-13", launch_id=None, epoch=epoch, iso_dates=True),
        docs.starlink(48003, "2021-101C", "2021-11-13", launch_id=None, epoch=epoch),
        docs.starlink(48004, "2021-101D", "2021-11-13", launch_id=None, epoch=epoch),
        docs.starlink(52001, "2022-055A", "2022-05-14", launch_id=f5["id"], epoch=epoch),
        docs.starlink(52002, "2022-055B", "2022-05-14", launch_id=f5["id"], epoch=epoch),
        docs.starlink(
            52003,
            "2022-055C",
            "2022-05-14",
            launch_id=f5["id"],
            decay_date="2022-10-20",
            epoch="2022-10-19 00:00:00",
        ),
        # a launch the API does not list at all: known only from the COSPAR designator
        docs.starlink(54001, "2022-120A", "2022-10-05", launch_id=None, epoch=epoch),
        docs.starlink(54002, "2022-120B", "2022-10-05", launch_id=None, epoch=epoch),
    ]
    sats[4]["spaceTrack"]["DECAYED"] = 1  # 48002: decayed, date unknown
    return {"launches": launches, "starlink": sats}


@pytest.fixture(scope="module")
def hand_run(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One run of the hand-computed history, read by the tests below that change nothing."""
    with whole_run(hand_fixture(), DS, tmp_path_factory.mktemp("hand"), pg_server) as run:
        yield run


def run_pipeline(monkeypatch, pipeline_env, api: dict, ds: str = DS) -> dict:
    with ReplayServer(spacex=api) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        assert cli.main(["run", "--ds", ds]) == 0
    lake = Path(pipeline_env["LAKE_URL"].removeprefix("file://"))
    return json.loads((lake / f"reports/starlink/ds={ds}/answer.json").read_bytes())


def test_the_answer_matches_the_hand_computation(hand_run: Run):
    answer = hand_run.answer

    assert answer["as_of"] == "2022-10-25"  # the newest epoch, not the run date
    # 12 launched; decayed by then: 44001, 44002, 52003, and 48002 (date unknown) -> 8 in orbit
    assert answer["satellites_in_orbit"] == 8
    # in (2021-10-25, 2022-10-25]: 2021-101 (4 sats), 2022-055 (3), 2022-120 (2); upcoming ones excluded
    assert answer["details"]["launches_in_trailing_window"] == 3
    assert answer["launches_per_month"] == 0.25
    assert answer["satellites_per_launch"] == 3.0
    assert answer["details"]["decays_per_month"] == 0.25  # 44002, 52003, 48002
    assert answer["details"]["starlink_launches"] == 4
    assert answer["details"]["satellites_per_launch_all_time"] == 3.0  # 12 / 4
    # +0.75 satellites a month against 0.25 decays: 41,992 / 0.5 = 83,984 months, past the horizon
    constant = next(s for s in answer["scenarios"] if s["scenario"] == "constant_cadence")
    assert constant["reaches_target"] is False and constant["launches_needed"] is None
    assert {s["scenario"] for s in answer["scenarios"]} == {"constant_cadence", "trend_cadence"}
    assert answer["stale"] is True and answer["stale_since"] == "2022-10-25"
    assert answer["source"] == "spacex_api" and answer["sample_data"] is False
    assert answer["sources"][0]["url"].endswith("/v4/starlink/query")

    out = hand_run.stdout
    assert "satellites in orbit     8" in out and "source is stale" in out

    with psycopg.connect(hand_run.warehouse_url) as conn:
        assigned = dict(
            conn.execute("select norad_id, launch_assignment from intermediate.int_satellites__assigned_to_launches")
        )
        cospar_launch = conn.execute(
            "select launch_name, satellites_carried from marts.dim_launches where launch_source = 'cospar'"
        ).fetchall()
        happened = dict(
            conn.execute("select flight_number, has_happened from marts.dim_launches where flight_number is not null")
        )
    assert assigned[44003] == "cospar_sibling" and assigned[48001] == "same_day_launch"
    assert assigned[54001] == "cospar_only"
    assert cospar_launch == [("Starlink (COSPAR 2022-120)", 2)]
    assert happened[6] is False and happened[7] is False and happened[5] is True


def test_answer_json_is_the_typed_answer_with_provenance_from_the_warehouse(hand_run: Run, monkeypatch, tmp_path):
    """answer.json has one writer and one reader (answer.Answer); the printed summary renders from
    it; where and when each source was fetched comes from raw.load_log, not from the lake."""
    body = hand_run.answer_bytes
    answer = Answer.from_json(body)
    assert answer.to_json() == body
    assert summary_text(answer) in hand_run.stdout
    # A copy of the run's lake, so that the shared run is left as it was; report writes only the lake.
    lake = tmp_path / "lake"
    shutil.copytree(hand_run.lake, lake)
    hand_run.use(monkeypatch)
    monkeypatch.setenv("LAKE_URL", lake.as_uri())

    manifest = json.loads((lake / f"raw/spacex/starlink/ds={DS}/_manifest.json").read_bytes())
    (source,) = answer.sources
    assert (source.url, source.fetched_at) == (manifest["source_url"], manifest["fetched_at"])
    # The lake's raw snapshot gone, a report still knows where it came from.
    shutil.rmtree(lake / "raw")
    assert cli.main(["report", "--ds", DS]) == 0
    again = Answer.from_json((lake / f"reports/starlink/ds={DS}/answer.json").read_bytes())
    assert (again.sources[0].url, again.sources[0].fetched_at) == (source.url, source.fetched_at)


def test_the_answer_matches_an_independent_computation(golden_run: Run, api_docs):
    answer = golden_run.answer
    expected = independent_answer(api_docs["launches"], api_docs["starlink"])

    assert answer["as_of"] == expected["as_of"]
    assert answer["satellites_in_orbit"] == expected["satellites_in_orbit"]
    assert answer["details"]["launches_in_trailing_window"] == expected["launches_in_window"]
    assert answer["launches_per_month"] == pytest.approx(expected["launches_per_month"], abs=0.0005)
    assert answer["satellites_per_launch"] == pytest.approx(expected["satellites_per_launch"], abs=0.005)
    assert answer["details"]["decays_per_month"] == pytest.approx(expected["decays_per_month"], abs=0.005)
    assert answer["details"]["starlink_launches"] == expected["starlink_launches"]


def test_the_chart_is_a_real_png(hand_run: Run):
    folder = hand_run.lake / report_prefix(DS)
    png = (folder / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1210, 880) and len(png) > 20_000
    import matplotlib.image

    pixels = matplotlib.image.imread(folder / "chart.png")
    assert pixels.shape[:2] == (880, 1210) and pixels.std() > 0.05  # not a blank image
    report = (folder / "report.md").read_text()
    assert "![chart](chart.png)" in report and "| constant cadence |" in report


@pytest.mark.pipeline  # runs of its own
def test_rerun_and_backfill_give_the_same_answer(monkeypatch, pipeline_env):
    api = hand_fixture()
    first = run_pipeline(monkeypatch, pipeline_env, api, ds="2024-01-30")
    run_pipeline(monkeypatch, pipeline_env, api, ds="2024-01-31")
    again = run_pipeline(monkeypatch, pipeline_env, api, ds="2024-01-30")  # a backfill of the older ds

    def stable(a: dict) -> dict:
        # the rerun fetched and loaded again: only its provenance times differ
        volatile = ("fetched_at", "url")
        sources = [{k: v for k, v in s.items() if k not in volatile} for s in a["sources"]]
        provenance = ("data_loaded_at", "data_fetched_at", "files")
        return {**{k: v for k, v in a.items() if k not in provenance}, "sources": sources}

    assert stable(again) == stable(first)
    # judged as of the run's date, so the backfill's verdict is the first run's, whatever today is
    assert (again["sources"][0]["freshness"], again["sources"][0]["age_days"]) == ("warn", 462)
    with psycopg.connect(pipeline_env["WAREHOUSE_URL"]) as conn:
        daily = conn.execute(
            "select ds::text, satellites_in_orbit from marts.fct_constellation_daily order by 1"
        ).fetchall()
    assert daily == [("2024-01-30", 8), ("2024-01-31", 8)]  # both after the data's newest date: as of it


def test_backtest_command(golden_run: Run, monkeypatch, api_docs, capsys):
    """The rolling backtest's table, and `--cutoff --horizon` for one more fit checked against the data."""
    golden_run.use(monkeypatch)
    assert cli.main(["backtest", "--ds", DS, "--cutoff", "2021-06-30", "--horizon", "6"]) == 0
    out = capsys.readouterr().out
    assert "Rolling-origin backtest" in out and "naive (no growth)" in out
    assert "constant_cadence   2021-06-30  2021-12-30" in out
    expected = independent_answer(api_docs["launches"], api_docs["starlink"])
    from datetime import date

    actual = sum(expected["in_orbit_on"](s, date(2021, 12, 30)) for s in _sats(api_docs))
    assert f"{actual:,}" in out
    # --horizon alone: fitted that many months before the as-of date (2022-10-20), checked on it
    assert cli.main(["backtest", "--ds", DS, "--horizon", "12"]) == 0
    assert "constant_cadence   2021-10-20  2022-10-20" in capsys.readouterr().out


def _sats(api: dict) -> list[dict]:
    from support.expected import _day

    return [
        {
            "launch_date": _day(d["spaceTrack"]["LAUNCH_DATE"]),
            "decay": _day(d["spaceTrack"]["DECAY_DATE"]),
            "decayed": bool(d["spaceTrack"]["DECAYED"]),
        }
        for d in api["starlink"]
    ]


@pytest.mark.pipeline  # runs of its own
def test_a_smaller_target_is_reached_as_computed_by_hand(monkeypatch, pipeline_env):
    """8 in orbit on 2022-10-25; 0.25 launches/month x 3 satellites against 0.25 decays/month:
    each launch nets 3 - 0.25/0.25 = 2, so 12 more satellites take 6 launches = 24 months
    (730 days): 2024-10-24."""
    monkeypatch.setenv("TARGET_SATELLITES", "20")
    answer = run_pipeline(monkeypatch, pipeline_env, hand_fixture())
    constant = next(s for s in answer["scenarios"] if s["scenario"] == "constant_cadence")
    assert answer["target_satellites"] == 20
    assert (constant["launches_needed"], constant["months_needed"]) == (6, 24.0)
    assert (constant["reaches_target_on"], constant["reaches_target_month"]) == ("2024-10-24", "2024-10")


@pytest.mark.pipeline  # runs of its own
def test_the_forecasts_assumptions_are_settings_that_reach_dbt_and_the_report(monkeypatch, pipeline_env):
    """CADENCE_WINDOW_MONTHS=6: in (2022-04-25, 2022-10-25] launches 2022-055 (3 satellites) and
    2022-120 (2): 2/6 = 0.333 a month, 2.5 satellites per launch; decays 44002, 52003 and 48002 (no
    date: from 2022-10-25): 0.5 a month. SATELLITES_PER_LAUNCH=20 and DECAYS_PER_MONTH=0 replace those
    in the forecast, not in the sub-answers: 20 per launch at 0.333 a month is +6.67 a month, so the 12
    satellites to TARGET_SATELLITES=20 take 1.8 months (55 days: 2022-12-19) and 0.6 -> 1 launch."""
    for name, value in {
        "CADENCE_WINDOW_MONTHS": "6",
        "SATELLITES_PER_LAUNCH": "20",
        "DECAYS_PER_MONTH": "0",
        "TARGET_SATELLITES": "20",
    }.items():
        monkeypatch.setenv(name, value)
    answer = run_pipeline(monkeypatch, pipeline_env, hand_fixture())
    assert answer["assumptions"] == {
        "target_satellites": 20,
        "cadence_window_months": 6,
        "trend_window_months": 24,
        "satellites_per_launch": 20.0,
        "satellites_per_launch_from": "SATELLITES_PER_LAUNCH",
        "decays_per_month": 0.0,
        "decays_per_month_from": "DECAYS_PER_MONTH",
    }
    assert (answer["launches_per_month"], answer["satellites_per_launch"]) == (0.333, 2.5)
    assert (answer["details"]["decays_per_month"], answer["details"]["trailing_months"]) == (0.5, 6)
    constant = next(s for s in answer["scenarios"] if s["scenario"] == "constant_cadence")
    assert (constant["satellites_per_launch"], constant["decays_per_month"]) == (20.0, 0.0)
    assert (constant["months_needed"], constant["launches_needed"]) == (1.8, 1)
    assert (constant["reaches_target_on"], constant["reaches_target_month"]) == ("2022-12-19", "2022-12")
    assert "set: 20.0 satellites per launch, 0.0 decays per month" in constant["description"]
    lake = Path(pipeline_env["LAKE_URL"].removeprefix("file://"))
    report = (lake / f"reports/starlink/ds={DS}/report.md").read_text()
    assert (
        "Assuming rates over the last 6 months (the trend over 24), 20.0 satellites per launch (set by "
        "SATELLITES_PER_LAUNCH), 0.0 decays a month (set by DECAYS_PER_MONTH), target 20." in report
    )
