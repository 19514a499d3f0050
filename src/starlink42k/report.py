"""The `report` step: the Answer built from the marts, written to the lake as answer.json with its
chart and report.md (render.py draws them) under reports/starlink/ds=<ds>/, answer.json last."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from . import lake as lakes
from . import warehouse as wh
from .answer import FILES, QUESTION, SAMPLE_NOTICE, Answer, Assumptions, Backtest, Details, Interval, Scenario, Source
from .context import Context
from .errors import PipelineError
from .log import event, get_logger, timed
from .publish import check_marts_built_for
from .render import backtest_table, chart_png, markdown

log = get_logger("report")
SOURCE_LABELS = {"spacex_api": "SpaceX API v4", "celestrak_satcat": "CelesTrak SATCAT"}


@dataclass(frozen=True)
class Marts:
    """The rows the report reads, one list per mart."""

    summary: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    forecast: list[dict[str, Any]]
    path: list[dict[str, Any]]  # the chart's projected lines and band
    monthly: list[dict[str, Any]]  # the chart's history
    backtest: list[dict[str, Any]]  # per scenario and horizon (fct_forecast_backtest_accuracy)


def _query(conn: psycopg.Connection, sql: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql).fetchall()


def read_marts(ctx: Context) -> Marts:
    try:
        with wh.session(ctx.warehouse) as conn:
            return Marts(
                summary=_query(conn, "select * from marts.fct_constellation_summary"),
                sources=_query(conn, "select * from marts.dim_data_sources order by source_name"),
                forecast=_query(conn, "select * from marts.fct_starlink_forecast order by scenario"),
                path=_query(conn, "select * from marts.fct_starlink_forecast_path order by scenario, month_offset"),
                monthly=_query(conn, "select * from marts.fct_constellation_monthly order by month_start"),
                backtest=_query(
                    conn, "select * from marts.fct_forecast_backtest_accuracy order by scenario, horizon_months"
                ),
            )
    except psycopg.errors.UndefinedTable as exc:
        raise PipelineError(f"the marts are not built ({exc}); run `starlink42k transform` first") from None


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _utc(value: datetime | None) -> str | None:
    """A load's fetch time as the extract wrote it: UTC to the second, with a Z."""
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if value else None


def _days(value: float | None) -> float | int | None:
    return int(value) if value is not None and float(value).is_integer() else value


def _month(value: date | None) -> str | None:
    return value.strftime("%Y-%m") if value else None


def _backtest(rows: list[dict[str, Any]]) -> tuple[Backtest, ...]:
    """fct_forecast_backtest_accuracy's rows as answer.json's (without the interval's percentiles,
    which `interval` states once)."""
    return tuple(Backtest(**{k: _iso(v) for k, v in r.items() if k in Backtest.__dataclass_fields__}) for r in rows)


def headline_reason(headline: Scenario, backtest: tuple[Backtest, ...]) -> str:
    """Why the headline scenario: its backtest error against the other scenarios' and the naive baseline's."""
    if headline.backtest_mean_abs_error_pct is None:
        return "the default: no backtest origin has a full cadence window of launch history behind it"
    rows = [b for b in backtest if b.scenario == headline.scenario]
    errors: dict[str, list[float]] = {}
    for b in sorted(backtest, key=lambda b: b.scenario == "naive"):  # the other scenarios, then the baseline
        if b.scenario != headline.scenario:
            name = "the naive baseline" if b.scenario == "naive" else b.label
            errors.setdefault(name, []).append(b.mean_abs_error_pct)
    versus = " and ".join(f"{sum(e) / len(e):.1f}% for {name}" for name, e in errors.items())
    return (
        f"the lowest backtest error: {headline.backtest_mean_abs_error_pct:.1f}% mean absolute error over "
        f"{len(rows)} horizons of {rows[0].horizon_months} to {rows[-1].horizon_months} months (origins monthly "
        f"from {min(b.first_origin for b in rows)[:7]} to {max(b.last_origin for b in rows)[:7]}), against {versus}"
    )


def interval_of(headline: Scenario, backtest: tuple[Backtest, ...], low: float, high: float) -> Interval | None:
    """The headline's interval claim and its coverage, pooled over the horizons that have one."""
    rows = [b for b in backtest if b.scenario == headline.scenario and b.coverage is not None]
    if not rows:
        return None
    checked = sum(b.growth_ratios for b in rows)
    outside = [b for b in rows if b.origins_out_of_sample]
    checked_out = sum(b.origins_out_of_sample for b in outside)
    return Interval(
        scenario=headline.scenario,
        low_percentile=low,
        high_percentile=high,
        claimed_coverage=round((high - low) / 100, 3),
        coverage=round(sum(b.coverage * b.growth_ratios for b in rows) / checked, 3),
        checked=checked,
        coverage_out_of_sample=(
            round(sum(b.coverage_out_of_sample * b.origins_out_of_sample for b in outside) / checked_out, 3)
            if checked_out
            else None
        ),
        checked_out_of_sample=checked_out,
        method=(
            f"the {low:g}th-{high:g}th percentile of the backtest's growth ratios (actual / forecast growth "
            f"since each origin) at each horizon, applied to the forecast's growth, interpolated between "
            f"horizons and held beyond the longest ({rows[-1].horizon_months} months)"
        ),
    )


def build_answer(ctx: Context, ds: str, marts: Marts) -> Answer:
    if not marts.summary:
        raise PipelineError(
            f"no satellite snapshot is loaded on or before ds {ds}, so there is nothing to answer for it: "
            f"run `starlink42k run --ds {ds}` (or extract, to-csv and load for it) first"
        )
    summary = marts.summary[0]
    run_day = date.fromisoformat(ds)
    sources = tuple(
        Source(
            name=s["source_name"],
            label=SOURCE_LABELS.get(s["source_name"], s["source_name"]),
            # where and when the snapshot was fetched, as its load recorded it (raw.load_log)
            url=s["fetched_from"],
            fetched_at=_utc(s["fetched_at"]),
            as_of=_iso(s["data_as_of_date"]),
            satellites=s["satellites"],
            snapshot_ds=_iso(s["snapshot_ds"]),
            used_for_forecast=s["is_forecast_source"],
            age_days=(run_day - s["data_as_of_date"]).days,
            # staleness is the run's freshness check (raw.source_freshness), thresholds the dbt sources'
            freshness=s["freshness"] or "unchecked",
            stale_after_days=_days(s["warn_after_days"]),
            error_after_days=_days(s["error_after_days"]),
            stale=s["freshness"] in ("warn", "error"),
        )
        for s in marts.sources
    )
    loaded = [s["loaded_at"] for s in marts.sources if s["loaded_at"]]
    main = next(s for s in sources if s.used_for_forecast)
    scenarios = tuple(
        Scenario(
            scenario=f["scenario"],
            description=f["scenario_description"],
            as_of=_iso(f["as_of_date"]),
            satellites_in_orbit=f["satellites_in_orbit"],
            launches_per_month=f["launches_per_month"],
            cadence_slope_per_month=f["cadence_slope_per_month"],
            satellites_per_launch=f["satellites_per_launch"],
            decays_per_month=f["decays_per_month"],
            reaches_target=f["reaches_target"],
            reaches_target_month=_month(f["reaches_target_month"]),
            reaches_target_on=_iso(f["reaches_target_on"]),
            months_needed=f["months_needed"],
            launches_needed=f["launches_needed"],
            reaches_target_earliest_month=_month(f["reaches_target_earliest_month"]),
            reaches_target_latest_month=_month(f["reaches_target_latest_month"]),
            backtest_mean_abs_error_pct=f["backtest_mean_abs_error_pct"],
            is_headline=f["is_headline"],
        )
        for f in marts.forecast
    )
    backtest = _backtest(marts.backtest)
    headline = next(s for s in scenarios if s.is_headline)
    first = marts.forecast[0]
    b = marts.backtest[0] if marts.backtest else None
    percentiles = (b["interval_low_percentile"], b["interval_high_percentile"]) if b else None
    yearly: dict[str, int] = {}
    for m in marts.monthly:
        year = str(m["month_start"].year)
        yearly[year] = yearly.get(year, 0) + m["starlink_launches"]
    sample = ctx.settings.sample_data
    prefix = lakes.report_prefix(ds)
    return Answer(
        question=QUESTION,
        ds=ds,
        as_of=_iso(summary["as_of_date"]),
        data_as_of=_iso(summary["data_as_of_date"]),
        data_fetched_at=main.fetched_at,
        snapshot_ds=main.snapshot_ds,
        data_loaded_at=_utc(max(loaded)) if loaded else None,
        sample_data=sample,
        notice=SAMPLE_NOTICE if sample else None,
        source=main.name,
        source_label=main.label,
        stale=main.stale,
        stale_since=main.as_of if main.stale else None,
        stale_after_days=main.stale_after_days,
        target_satellites=first["target_satellites"],
        satellites_in_orbit=summary["satellites_in_orbit"],
        launches_per_month=summary["launches_per_month_trailing"],
        satellites_per_launch=summary["satellites_per_launch_trailing"],
        headline_scenario=headline.scenario,
        headline_reason=headline_reason(headline, backtest),
        assumptions=Assumptions(
            target_satellites=first["target_satellites"],
            cadence_window_months=first["cadence_window_months"],
            trend_window_months=first["trend_window_months"],
            satellites_per_launch=headline.satellites_per_launch,
            satellites_per_launch_from="SATELLITES_PER_LAUNCH" if first["satellites_per_launch_is_set"] else "measured",
            decays_per_month=headline.decays_per_month,
            decays_per_month_from="DECAYS_PER_MONTH" if first["decays_per_month_is_set"] else "measured",
        ),
        details=Details(
            trailing_months=summary["trailing_months"],
            launches_in_trailing_window=summary["launches_trailing"],
            launches_per_year=summary["launches_trailing"] * 12 / summary["trailing_months"],
            satellites_per_launch_all_time=summary["satellites_per_launch_all_time"],
            decays_per_month=summary["decays_per_month_trailing"],
            satellites_launched=summary["satellites_launched"],
            satellites_decayed=summary["satellites_decayed"],
            starlink_launches=summary["starlink_launches"],
            first_launch_date=_iso(summary["first_launch_date"]),
            last_launch_date=_iso(summary["last_launch_date"]),
            starlink_launches_per_year=yearly,
        ),
        scenarios=scenarios,
        backtest=backtest,
        interval=interval_of(headline, backtest, *percentiles) if percentiles else None,
        sources=sources,
        files={name: ctx.lake.uri(prefix + name) for name in FILES},
    )


def report(ctx: Context, ds: str, *, lock: bool = True) -> Answer:
    """``lock=False``: the caller holds the marts lock (``run``, since its transform)."""
    with timed(log, "report", "answer.json, chart and report", ds=ds):
        with wh.marts_lock(ctx.warehouse, shared=True) if lock else contextlib.nullcontext():  # not mid-rebuild
            check_marts_built_for(ctx, ds)  # refused, saying why, unless the marts are of this ds
            marts = read_marts(ctx)
        answer = build_answer(ctx, ds, marts)
        prefix = lakes.report_prefix(ds)
        chart = chart_png(answer, marts.monthly, marts.path)
        # answer.json commits the folder: it goes first and comes back last, so that a reader never
        # finds an answer beside the chart or report of another run (a run killed in between).
        ctx.lake.delete(prefix + "answer.json")
        ctx.lake.put_bytes(prefix + "chart.png", chart, "image/png")
        ctx.lake.put_bytes(prefix + "report.md", markdown(answer, "chart.png").encode(), "text/markdown")
        # Last: a reader that finds answer.json finds the chart and the report of the same run.
        ctx.lake.put_bytes(prefix + "answer.json", answer.to_json(), "application/json")
    event(log, "report.written", f"report → {ctx.lake.uri(prefix)}", ds=ds)
    return answer


def backtest_text(ctx: Context) -> str:
    """The rolling backtest's accuracy per scenario and horizon, and the cut-off fit's rows if any."""
    with wh.session(ctx.warehouse) as conn:
        accuracy = _query(conn, "select * from marts.fct_forecast_backtest_accuracy order by scenario, horizon_months")
        cutoff = _query(
            conn, "select * from marts.fct_forecast_backtest where fit = 'cutoff' order by scenario, horizon_months"
        )
    return backtest_table(_backtest(accuracy), [{k: _iso(v) for k, v in c.items()} for c in cutoff])
