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
from .answer import FILES, QUESTION, SAMPLE_NOTICE, Answer, Backtest, Details, Scenario, Source
from .context import Context
from .errors import PipelineError
from .log import event, get_logger, timed
from .publish import check_marts_built_for
from .render import chart_png, markdown

log = get_logger("report")
SOURCE_LABELS = {"spacex_api": "SpaceX API v4", "celestrak_satcat": "CelesTrak SATCAT"}


@dataclass(frozen=True)
class Marts:
    """The rows the report reads, one list per mart."""

    summary: list[dict[str, Any]]
    sources: list[dict[str, Any]]
    forecast: list[dict[str, Any]]
    path: list[dict[str, Any]]  # the chart's projected lines
    monthly: list[dict[str, Any]]  # the chart's history
    backtest: list[dict[str, Any]]


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
                backtest=_query(conn, "select * from marts.fct_forecast_backtest order by scenario"),
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


def build_answer(ctx: Context, ds: str, marts: Marts) -> Answer:
    if not marts.summary:
        raise PipelineError("the marts hold no Starlink satellites for this ds; was anything loaded?")
    summary = marts.summary[0]
    run_day = date.fromisoformat(ds)
    sources = tuple(
        Source(
            name=s["source_name"],
            label=SOURCE_LABELS.get(s["source_name"], s["source_name"]),
            # where and when the snapshot was fetched, as its load recorded it (raw.load_log)
            url=s["fetched_from"],
            fetched_at=_utc(s["fetched_at"]),
            as_of=_iso(s["as_of_date"]),
            satellites=s["satellites"],
            snapshot_ds=_iso(s["snapshot_ds"]),
            used_for_forecast=s["is_forecast_source"],
            age_days=(run_day - s["as_of_date"]).days,
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
            reaches_target_month=f["reaches_target_month"].strftime("%Y-%m") if f["reaches_target_month"] else None,
            reaches_target_on=_iso(f["reaches_target_on"]),
            months_needed=f["months_needed"],
            launches_needed=f["launches_needed"],
        )
        for f in marts.forecast
    )
    yearly: dict[str, int] = {}
    for m in marts.monthly:
        year = str(m["month_start"].year)
        yearly[year] = yearly.get(year, 0) + m["starlink_launches"]
    sample = ctx.settings.sample_data
    prefix = lakes.report_prefix(ds)
    return Answer(
        question=QUESTION,
        ds=ds,
        data_loaded_at=_utc(max(loaded)) if loaded else None,
        sample_data=sample,
        notice=SAMPLE_NOTICE if sample else None,
        as_of=_iso(summary["as_of_date"]),
        source=main.name,
        source_label=main.label,
        stale=main.stale,
        stale_since=main.as_of if main.stale else None,
        stale_after_days=main.stale_after_days,
        target_satellites=marts.forecast[0]["target_satellites"] if marts.forecast else None,
        satellites_in_orbit=summary["satellites_in_orbit"],
        launches_per_month=summary["launches_per_month_trailing"],
        satellites_per_launch=summary["satellites_per_launch_trailing"],
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
        backtest=tuple(Backtest(**{k: _iso(v) for k, v in b.items()}) for b in marts.backtest),
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
    with wh.session(ctx.warehouse) as conn:
        rows = _query(conn, "select * from marts.fct_forecast_backtest order by scenario")
    lines = ["scenario           cut-off     checked on   predicted     actual    error"]
    for b in (Backtest(**{k: _iso(v) for k, v in row.items()}) for row in rows):
        actual = f"{b.actual_in_orbit:,}" if b.actual_in_orbit is not None else "(no data)"
        error = f"{b.error:+,} ({b.error_pct:+.1f}%)" if b.error is not None else "-"
        lines.append(
            f"{b.scenario:<18} {b.cutoff_date}  {b.checked_on}  {b.predicted_in_orbit:>9,}  {actual:>9}    {error}"
        )
    return "\n".join(lines)
