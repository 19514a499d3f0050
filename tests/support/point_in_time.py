"""Independent checks of point-in-time answers and of the rolling backtest, from the raw records.

The counts follow the written definition (dbt/README.md), not the SQL: in orbit on a day = launched
on or before it and not decayed by it; a satellite the records call decayed without a date counts as
decayed from their newest date. The backtest's statistics are recomputed from its own rows with
PostgreSQL's percentile_cont (linear between ranks).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from support.expected import _day, months_before


def in_orbit_spacex(satellites: list[dict], on: date) -> int:
    """From SpaceX API starlink documents (their Space-Track record)."""
    tracks = [d["spaceTrack"] for d in satellites]
    newest = max(max(d for d in (_day(t["LAUNCH_DATE"]), _day(t["DECAY_DATE"]), _day(t["EPOCH"])) if d) for t in tracks)
    return sum(
        _day(t["LAUNCH_DATE"]) <= on
        and not ((t["DECAYED"] or t["DECAY_DATE"]) and (_day(t["DECAY_DATE"]) or newest) <= on)
        for t in tracks
    )


def starlink_payloads(records: list[dict]) -> list[dict]:
    """SATCAT records of Starlink payloads (the name search also returns debris and rocket bodies)."""
    return [r for r in records if r["OBJECT_TYPE"] == "PAY" and r["OBJECT_NAME"].upper().startswith("STARLINK")]


def in_orbit_satcat(records: list[dict], on: date) -> int:
    """From CelesTrak SATCAT records."""
    payloads = [r for r in starlink_payloads(records) if r["LAUNCH_DATE"]]
    newest = max(max(d for d in (r["LAUNCH_DATE"], r["DECAY_DATE"]) if d) for r in payloads)
    day = on.isoformat()
    return sum(
        r["LAUNCH_DATE"] <= day
        and not ((r["DECAY_DATE"] or r["OPS_STATUS_CODE"] == "D") and (r["DECAY_DATE"] or newest) <= day)
        for r in payloads
    )


def percentile(values: list[float], share: float) -> float:
    """PostgreSQL's percentile_cont of sorted ``values``."""
    position = share * (len(values) - 1)
    below = int(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


BACKTEST_SQL = """
select origin_date, scenario, horizon_months, checked_on, in_orbit_at_origin, predicted_in_orbit,
       actual_in_orbit, error_pct, growth_ratio
from marts.fct_forecast_backtest where fit = 'backtest'
"""
KEYS = ("origin", "scenario", "horizon", "checked_on", "at_origin", "predicted", "actual", "error_pct", "ratio")


def backtest_rows(conn: Any) -> list[dict]:
    return [dict(zip(KEYS, row, strict=True)) for row in conn.execute(BACKTEST_SQL).fetchall()]


def check_backtest(
    answer: dict,
    rows: list[dict],
    in_orbit: Callable[[date], int],
    first_launch: date,
    *,
    origin_months: int = 60,
    window_months: int = 12,
    shortest_horizon: int = 3,
    min_origins: int = 10,
    claim_tolerance: float | None = 0.1,
) -> None:
    """The rolling backtest of ``answer`` (answer.json) against its rows (fct_forecast_backtest) and
    the raw records (``in_orbit``): origins, counts, errors, interval, coverage and the headline.
    ``claim_tolerance``: how far each horizon's coverage may be from the 80% claimed (None: not checked)."""
    as_of = date.fromisoformat(answer["as_of"])
    # origins: month ends counted back from the as-of date, each with a full window of launches
    # behind it; those the data can check at the shortest horizon have rows
    expected = [months_before(as_of, k) for k in range(origin_months, shortest_horizon - 1, -1)]
    assert sorted({r["origin"] for r in rows}) == [
        o for o in expected if months_before(o, window_months) >= first_launch
    ]
    assert {r["scenario"] for r in rows} == {"constant_cadence", "trend_cadence", "naive"}
    by_day: dict[date, int] = {}
    for r in rows:
        assert r["checked_on"] == months_before(r["origin"], -r["horizon"]) <= as_of
        for day in (r["origin"], r["checked_on"]):
            by_day.setdefault(day, in_orbit(day))
        assert (r["at_origin"], r["actual"]) == (by_day[r["origin"]], by_day[r["checked_on"]]), r
        if r["scenario"] == "naive":
            assert r["predicted"] == r["at_origin"]

    backtest = {(b["scenario"], b["horizon_months"]): b for b in answer["backtest"]}
    assert set(backtest) == {(r["scenario"], r["horizon"]) for r in rows}
    for (scenario, horizon), b in backtest.items():
        mine = [r for r in rows if r["scenario"] == scenario and r["horizon"] == horizon]
        assert b["origins"] == len(mine)
        assert b["mean_abs_error_pct"] == _near(sum(abs(r["error_pct"]) for r in mine) / len(mine), 0.01)
        naive = [abs(r["error_pct"]) for r in rows if r["scenario"] == "naive" and r["horizon"] == horizon]
        assert b["skill_vs_naive"] == _near(1 - b["mean_abs_error_pct"] / (sum(naive) / len(naive)), 0.002)
        ratios = sorted(r["ratio"] for r in mine if r["ratio"] is not None)
        if scenario == "naive" or len(ratios) < min_origins:
            assert b["growth_ratio_low"] is None and b["coverage"] is None
            continue
        low, high = percentile(ratios, 0.1), percentile(ratios, 0.9)
        assert (b["growth_ratio_low"], b["growth_ratio_high"]) == (_near(low, 1e-4), _near(high, 1e-4))
        assert b["coverage"] == _near(sum(low <= r <= high for r in ratios) / len(ratios), 0.001)
        if claim_tolerance is not None:  # about the share it claims
            assert abs(b["coverage"] - 0.8) <= claim_tolerance, (scenario, horizon, b["coverage"])
        # out of sample: each origin against the interval of the origins already checked by then
        earlier = [
            (r["ratio"], sorted(e["ratio"] for e in mine if e["checked_on"] <= r["origin"] and e["ratio"] is not None))
            for r in mine
            if r["ratio"] is not None
        ]
        earlier = [(ratio, known) for ratio, known in earlier if len(known) >= min_origins]
        assert (b["origins_out_of_sample"] or 0) == len(earlier)
        if earlier:
            held = sum(percentile(known, 0.1) <= ratio <= percentile(known, 0.9) for ratio, known in earlier)
            assert b["coverage_out_of_sample"] == _near(held / len(earlier), 0.001)

    # the headline: the lowest mean, over the horizons, of the mean absolute error; the naive baseline named
    def mean_error(scenario: str) -> float:
        errors = [b["mean_abs_error_pct"] for (s, _), b in backtest.items() if s == scenario]
        return sum(errors) / len(errors)

    best = min(("constant_cadence", "trend_cadence"), key=mean_error)
    assert answer["headline_scenario"] == best
    assert f"{mean_error(best):.1f}%" in answer["headline_reason"]
    assert f"{mean_error('naive'):.1f}% for the naive baseline" in answer["headline_reason"]
    pooled = [b for (s, _), b in backtest.items() if s == best and b["coverage"] is not None]
    interval = answer["interval"]
    assert (interval["scenario"], interval["claimed_coverage"]) == (best, 0.8)
    assert interval["checked"] == sum(b["growth_ratios"] for b in pooled)
    assert interval["coverage"] == _near(sum(b["coverage"] * b["growth_ratios"] for b in pooled) / interval["checked"])
    headline = next(s for s in answer["scenarios"] if s["is_headline"])
    assert headline["scenario"] == best
    if headline["reaches_target"] and headline["reaches_target_latest_month"]:
        assert headline["reaches_target_earliest_month"] <= headline["reaches_target_latest_month"]


def _near(value: float, tolerance: float = 0.001) -> Any:
    import pytest

    return pytest.approx(value, abs=tolerance)
