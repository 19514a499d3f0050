"""The answer, rendered: the printed summary, report.md and the chart. Pure functions of an
``Answer`` (and, for the chart, the marts' history and projected paths): no I/O."""

from __future__ import annotations

import io
import math
import textwrap
from typing import Any

from .answer import Answer, Backtest, Scenario


def _scenario_lines(s: Scenario, target: int, claimed: float | None) -> list[str]:
    name = s.label
    if not s.reaches_target:
        return [
            f"  {name:<17} never reaches {target:,}: at {s.launches_per_month:.2f} launches/month "
            f"x {s.satellites_per_launch:.1f} satellites, decays ({s.decays_per_month:.1f}/month) win"
        ]
    lines = [
        f"  {name:<17} {s.reaches_target_month}  after {s.launches_needed:,} more launches "
        f"({s.launches_per_month:.2f}/month now, {s.satellites_per_launch:.1f} satellites each)"
        + ("   <- headline" if s.is_headline else "")
    ]
    if s.reaches_target_earliest_month and claimed is not None:
        lines.append(f"  {'':<17} {claimed:.0%} interval {_interval(s)}")
    return lines


def _bias(s: Scenario) -> str:
    """When the interval leaves the scenario's own month out: the backtest found its forecasts biased."""
    if not s.reaches_target_month:
        return ""
    if s.reaches_target_latest_month and s.reaches_target_month > s.reaches_target_latest_month:
        return " (its backtest forecasts grew too slowly)"
    if s.reaches_target_month < s.reaches_target_earliest_month:
        return " (its backtest forecasts grew too fast)"
    return ""


def _latest(s: Scenario) -> str:
    return s.reaches_target_latest_month or "beyond the horizon"


def _interval(s: Scenario) -> str:
    return f"{s.reaches_target_earliest_month} to {_latest(s)}{_bias(s)}"


def _assumptions(answer: Answer) -> str:
    a = answer.assumptions
    if a is None:
        return ""
    spl = "measured" if a.satellites_per_launch_from == "measured" else f"set by {a.satellites_per_launch_from}"
    decays = "measured" if a.decays_per_month_from == "measured" else f"set by {a.decays_per_month_from}"
    return (
        f"rates over the last {a.cadence_window_months} months (the trend over {a.trend_window_months}), "
        f"{a.satellites_per_launch:.1f} satellites per launch ({spl}), {a.decays_per_month:.1f} decays a month "
        f"({decays}), target {a.target_satellites:,}"
    )


def _coverage(answer: Answer) -> str:
    i = answer.interval
    if i is None:
        return "No interval: no backtest horizon has enough held-out origins."
    text = (
        f"{i.claimed_coverage:.0%} interval: {i.method}. At the backtest's held-out origins it held "
        f"{i.coverage:.0%} of {i.checked} checks"
    )
    if i.coverage_out_of_sample is not None:
        text += f" ({i.coverage_out_of_sample:.0%} of {i.checked_out_of_sample} from earlier origins only)"
    return text + "."


def _wrapped(text: str, indent: str = "") -> list[str]:
    return textwrap.wrap(text, 100, initial_indent=indent, subsequent_indent=indent + "  ")


def summary_text(answer: Answer) -> str:
    target = answer.target_satellites
    claimed = answer.interval.claimed_coverage if answer.interval else None
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
        f"  data: the snapshot of ds {answer.snapshot_ds}, fetched {answer.data_fetched_at or '(not recorded)'}, "
        f"newest record {answer.data_as_of}",
        "",
        f"When {target:,} are in orbit:",
        *(line for s in answer.scenarios for line in _scenario_lines(s, target, claimed)),
        *_wrapped(f"Assuming {_assumptions(answer)}.", indent="  "),
    ]
    headline = answer.headline
    if headline is not None:
        lines += ["", *_wrapped(f"Headline: {headline.label}, {answer.headline_reason}."), *_wrapped(_coverage(answer))]
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


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _ratios(b: Backtest) -> str:
    return "-" if b.growth_ratio_low is None else f"{b.growth_ratio_low:.2f}-{b.growth_ratio_high:.2f}"


def backtest_table(rows: tuple[Backtest, ...], cutoff: list[dict[str, Any]]) -> str:
    """`starlink42k backtest`: the rolling backtest per scenario and horizon, then the cut-off fit."""
    lines = [
        "Rolling-origin backtest: the forecast refitted at each month end, checked against the data later",
        f"{'scenario':<18} {'horizon':>7} {'origins':>7} {'abs error':>9} {'bias':>7} {'skill':>6}"
        f"  {'growth ratio':<12} {'coverage':>8} {'out of sample':>14}",
    ]
    for b in rows:
        oos = f"{b.coverage_out_of_sample:.0%} of {b.origins_out_of_sample}" if b.origins_out_of_sample else "-"
        lines.append(
            f"{b.label:<18} {b.horizon_months:>7} {b.origins:>7} {b.mean_abs_error_pct:>8.1f}% "
            f"{b.mean_error_pct:>+6.1f}% {_or(b.skill_vs_naive, '-'):>6}  {_ratios(b):<12} "
            f"{_share(b.coverage):>8} {oos:>14}"
        )
    if not rows:
        lines.append("(no origin has a full cadence window of history before it)")
    if cutoff:
        lines += ["", "scenario           cut-off     checked on   predicted     actual    error"]
        for c in cutoff:
            actual = f"{c['actual_in_orbit']:,}" if c["actual_in_orbit"] is not None else "(no data)"
            error = f"{c['error']:+,.0f} ({c['error_pct']:+.1f}%)" if c["error"] is not None else "-"
            lines.append(
                f"{c['scenario']:<18} {c['origin_date']}  {c['checked_on']}  {c['predicted_in_orbit']:>9,.0f}  "
                f"{actual:>9}    {error}"
            )
    return "\n".join(lines)


def markdown(answer: Answer, chart_name: str) -> str:
    d, target = answer.details, answer.target_satellites
    claimed = f"{answer.interval.claimed_coverage:.0%} " if answer.interval else ""
    scenarios = "\n".join(
        f"| {s.label}{' (headline)' if s.is_headline else ''} | {s.launches_per_month:.2f} "
        f"| {s.cadence_slope_per_month:+.3f} | {s.satellites_per_launch:.1f} "
        f"| {s.decays_per_month:.1f} "
        f"| {_or(s.reaches_target_month, 'never')} "
        f"| {_interval(s) if s.reaches_target_earliest_month else '-'} "
        f"| {_or(s.launches_needed)} | {_or(s.backtest_mean_abs_error_pct)} |"
        for s in answer.scenarios
    )
    sources = "\n".join(
        f"| {s.label} | {s.as_of} | {s.satellites:,} | {'yes' if s.used_for_forecast else 'no'} "
        f"| {s.freshness} | {_or(s.url)} |"
        for s in answer.sources
    )
    backtest = "\n".join(
        f"| {b.label} | {b.horizon_months} | {b.origins} | {b.mean_abs_error_pct:.1f}% | {b.mean_error_pct:+.1f}% "
        f"| {_or(b.skill_vs_naive)} | {_ratios(b)} | {_share(b.coverage)} | {_share(b.coverage_out_of_sample)} |"
        for b in answer.backtest
    )
    notice = f"> **{answer.notice}**\n\n" if answer.sample_data else ""
    if answer.stale:
        notice += f"> The source is **stale**: its newest record is from {answer.stale_since}.\n\n"
    headline = answer.headline
    why = f"**Headline: {headline.label}**, {answer.headline_reason}.\n\n" if headline else ""
    return f"""# Starlink: the road to {target:,} satellites

{notice}*{answer.question}*

As of **{answer.as_of}** ({answer.source_label}), run for ds {answer.ds}, from the snapshot of ds
{answer.snapshot_ds} fetched {answer.data_fetched_at or "(not recorded)"} (its newest record: {answer.data_as_of}):

- **{answer.satellites_in_orbit:,}** satellites in orbit
- **{answer.launches_per_month:.2f}** Starlink launches per month (last {d.trailing_months} months)
- **{answer.satellites_per_launch:.1f}** satellites per launch
  (all time {d.satellites_per_launch_all_time:.1f})
- {d.decays_per_month:.1f} satellites decayed per month, which launches must replace

![chart]({chart_name})

## Forecast

| scenario | launches/month | cadence change/month | satellites/launch | decays/month | reaches {target:,} \
| {claimed}interval | launches needed | backtest error % |
|---|---|---|---|---|---|---|---|---|
{scenarios}

Assuming {_assumptions(answer)}.

{why}{_coverage(answer)}

## Backtest

The forecast refitted at each month end of the backtest's origins, from what had happened by then,
and checked against the data at each horizon; the naive baseline holds the origin's count. Skill =
1 - error / the naive baseline's error. Growth ratio = actual growth / forecast growth, its interval
percentiles; coverage = share of origins inside it (out of sample: the interval from earlier origins).

| scenario | horizon (months) | origins | mean abs error | bias | skill vs naive | growth ratio | coverage \
| out of sample |
|---|---|---|---|---|---|---|---|---|
{backtest}

## Sources

| source | newest record | satellites | used for forecast | freshness | URL |
|---|---|---|---|---|---|
{sources}

Definitions: the answer describes the run's ds, or the data's newest date when that is older; in
orbit = launched on or before that date and not decayed by then, from the records as they stand;
upcoming launches and launches after it have not happened; satellites without a launch link are
assigned by their COSPAR designator.
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
        if s.reaches_target and not s.is_headline:  # only the headline's line runs on to its band's end
            pts = [p for p in pts if p["month_offset"] <= math.ceil(s.months_needed)]
        color, dash = styles.get(s.scenario, ("grey", "-."))
        label = f"{s.label}{' (headline)' if s.is_headline else ''}: " + (
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
        band = [p for p in pts if p["low_in_orbit"] is not None]
        if s.is_headline and band and answer.interval:
            top.fill_between(
                [p["projected_on"] for p in band],
                [p["low_in_orbit"] for p in band],
                [p["high_in_orbit"] for p in band],
                color=color,
                alpha=0.15,
                linewidth=0,
                label=f"{answer.interval.claimed_coverage:.0%} interval (backtest): "
                f"{s.reaches_target_earliest_month} to {_latest(s)}",
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
