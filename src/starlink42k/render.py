"""The answer, rendered: the printed summary, report.md and the chart. Pure functions of an
``Answer`` (and, for the chart, the marts' history and projected paths): no I/O."""

from __future__ import annotations

import io
from typing import Any

from .answer import Answer, Scenario


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
