"""The `report` step: the answer from the marts, as answer.json, a chart, a Markdown report and a
printed summary. Files land in the lake under reports/starlink/ds=<ds>/ (answer.json last)."""

from __future__ import annotations

import contextlib
import io
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
from .transform import marts_lock

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


def _scenario_line(s: Scenario, target: int) -> str:
    name = s.label
    if not s.reaches_target:
        return (
            f"  {name:<17} never reaches {target:,}: at {s.launches_per_month:.2f} launches/month "
            f"x {s.satellites_per_launch:.1f} satellites, decays ({s.decays_per_month:.1f}/month) win"
        )
    return (
        f"  {name:<17} {s.reaches_target_month}  after {s.launches_needed:,} more launches "
        f"({s.launches_per_month:.2f}/month now, {s.satellites_per_launch:.1f} satellites each)"
    )


def summary_text(answer: Answer) -> str:
    target = answer.target_satellites
    lines = []
    if answer.sample_data:
        lines += [f"*** {answer.notice} ***", ""]
    lines += [
        answer.question,
        "",
        f"As of {answer.as_of} ({answer.source_label}):",
        f"  satellites in orbit     {answer.satellites_in_orbit:,}",
        f"  launches per month      {answer.launches_per_month:.2f}   "
        f"(last {answer.details.trailing_months} months; "
        f"{answer.details.launches_per_year:.0f} a year)",
        f"  satellites per launch   {answer.satellites_per_launch:.1f}   "
        f"(all time {answer.details.satellites_per_launch_all_time:.1f})",
        f"  decays per month        {answer.details.decays_per_month:.1f}",
        "",
        f"When {target:,} are in orbit:",
        *(_scenario_line(s, target) for s in answer.scenarios),
    ]
    tested = [b for b in answer.backtest if b.error_pct is not None]
    if tested:
        b = min(tested, key=lambda b: abs(b.error_pct))
        lines += [
            "",
            f"Backtest: fitted on data to {b.cutoff_date}, the {b.scenario.replace('_', ' ')} "
            f"forecast for {b.checked_on} was {b.predicted_in_orbit:,} vs "
            f"{b.actual_in_orbit:,} actual ({b.error_pct:+.1f}%).",
        ]
    main = answer.forecast_source
    if answer.stale:
        lines += [
            "",
            f"Note: the source is stale: its newest record is from {answer.stale_since} "
            f"(more than {answer.stale_after_days} days before {answer.ds}; dbt source freshness: "
            f"{main.freshness}). The SpaceX API stopped updating in late 2022.",
        ]
    elif main.freshness == "unchecked":
        lines += ["", f"Note: no freshness check was recorded for {answer.ds} (`starlink42k freshness`)."]
    for s in answer.sources:
        if not s.used_for_forecast:
            lines.append(f"  also read: {s.label}, as of {s.as_of}" + (" (stale)" if s.stale else ""))
    return "\n".join(lines)


def _or(value: Any, empty: str = "-") -> Any:
    return empty if value is None else value


def markdown(answer: Answer, chart_name: str) -> str:
    d, target = answer.details, answer.target_satellites
    scenarios = "\n".join(
        f"| {s.label} | {s.launches_per_month:.2f} "
        f"| {s.cadence_slope_per_month:+.3f} | {s.satellites_per_launch:.1f} "
        f"| {s.decays_per_month:.1f} "
        f"| {_or(s.reaches_target_month, 'never')} | {_or(s.launches_needed)} |"
        for s in answer.scenarios
    )
    sources = "\n".join(
        f"| {s.label} | {s.as_of} | {s.satellites:,} | {'yes' if s.used_for_forecast else 'no'} "
        f"| {s.freshness} | {_or(s.url)} |"
        for s in answer.sources
    )
    backtest = "\n".join(
        f"| {b.scenario.replace('_', ' ')} | {b.cutoff_date} | {b.checked_on} "
        f"| {b.predicted_in_orbit:,} | {_or(b.actual_in_orbit)} | {_or(b.error_pct)} |"
        for b in answer.backtest
    )
    notice = f"> **{answer.notice}**\n\n" if answer.sample_data else ""
    if answer.stale:
        notice += f"> The source is **stale**: its newest record is from {answer.stale_since}.\n\n"
    return f"""# Starlink: the road to {target:,} satellites

{notice}*{answer.question}*

As of **{answer.as_of}** ({answer.source_label}), run for ds {answer.ds}:

- **{answer.satellites_in_orbit:,}** satellites in orbit
- **{answer.launches_per_month:.2f}** Starlink launches per month (last {d.trailing_months} months)
- **{answer.satellites_per_launch:.1f}** satellites per launch
  (all time {d.satellites_per_launch_all_time:.1f})
- {d.decays_per_month:.1f} satellites decayed per month, which launches must replace

![chart]({chart_name})

## Forecast

| scenario | launches/month | cadence change/month | satellites/launch | decays/month | reaches {target:,} \
| launches needed |
|---|---|---|---|---|---|---|
{scenarios}

## Backtest

| scenario | fitted on data to | checked on | predicted in orbit | actual | error % |
|---|---|---|---|---|---|
{backtest}

## Sources

| source | as of | satellites | used for forecast | freshness | URL |
|---|---|---|---|---|---|
{sources}

Definitions: in orbit = launched on or before the as-of date and not decayed by then; the as-of
date is the newest date in the data; upcoming launches and launches after the as-of date have not
happened; satellites without a launch link are assigned by their COSPAR designator.
"""


def chart_png(answer: Answer, history: list[dict[str, Any]], paths: list[dict[str, Any]]) -> bytes:
    """The answer's chart: satellites in orbit (``history``, fct_constellation_monthly) and each
    scenario's projection (``paths``, fct_starlink_forecast_path), launches per month below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    target = answer.target_satellites
    months = [m["month_start"] for m in history]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8), height_ratios=[3, 1.4], sharex=False)
    top.plot(
        [m["measured_on"] for m in history],
        [m["satellites_in_orbit"] for m in history],
        color="#1f3b73",
        linewidth=2.2,
        label="in orbit (history)",
    )
    styles = {"constant_cadence": ("#d9480f", "--"), "trend_cadence": ("#2b8a3e", ":")}
    for s in answer.scenarios:
        pts = [p for p in paths if p["scenario"] == s.scenario]
        color, dash = styles.get(s.scenario, ("grey", "-."))
        label = f"{s.label}: " + (
            f"{target:,} in {s.reaches_target_month}, {s.launches_needed:,} launches"
            if s.reaches_target
            else "does not reach the target"
        )
        top.plot(
            [p["projected_on"] for p in pts],
            [p["projected_in_orbit"] for p in pts],
            dash,
            color=color,
            linewidth=2,
            label=label,
        )
    top.axhline(target, color="black", linewidth=0.8)
    top.annotate(f"target {target:,}", xy=(0.01, target), xycoords=("axes fraction", "data"), va="bottom", fontsize=9)
    top.set_ylabel("Starlink satellites in orbit")
    top.set_title(
        f"Starlink satellites in orbit and the path to {target:,}\nas of {answer.as_of}, {answer.source_label}",
        fontsize=12,
    )
    top.legend(loc="upper left", fontsize=9, bbox_to_anchor=(0, 0.93))
    top.grid(alpha=0.3)
    top.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    launches = [m["starlink_launches"] for m in history]
    bottom.bar(months, launches, width=25, color="#5c7cfa", label="Starlink launches")
    window = 12
    rolling = [sum(launches[max(0, i - window + 1) : i + 1]) / window for i in range(len(launches))]
    bottom.plot(
        months[window - 1 :], rolling[window - 1 :], color="#1f3b73", linewidth=1.5, label=f"{window}-month average"
    )
    bottom.set_ylabel("launches / month")
    bottom.legend(loc="upper left", fontsize=8)
    bottom.grid(alpha=0.3, axis="y")
    top.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=14))
    top.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    bottom.xaxis.set_major_locator(mdates.YearLocator())
    bottom.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
    if answer.sample_data:
        fig.text(
            0.5,
            0.5,
            "SAMPLE DATA",
            fontsize=60,
            color="grey",
            alpha=0.15,
            ha="center",
            va="center",
            rotation=20,
        )
    if answer.stale:
        fig.text(
            0.99,
            0.005,
            f"source stale since {answer.stale_since}",
            ha="right",
            fontsize=8,
            color="#c92a2a",
        )
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)
    return out.getvalue()


def report(ctx: Context, ds: str, *, lock: bool = True) -> Answer:
    """``lock=False``: the caller holds the marts lock (``run``, since its transform)."""
    with timed(log, "report", "answer.json, chart and report", ds=ds):
        with marts_lock(ctx, shared=True) if lock else contextlib.nullcontext():  # not mid-rebuild
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
