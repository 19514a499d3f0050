"""The answer, as a typed contract: what answer.json holds, and its one writer and one reader.

``report`` builds an ``Answer`` from the marts; the printed summary, report.md and the chart render
from it; anything that reads answer.json back (tests, the end-to-end run, a restore check) uses
``Answer.from_json``. Fields are in answer.json's order; the three sub-answers come first after the
provenance.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

QUESTION = "When will there be 42,000 Starlink satellites in orbit, and how many launches will it take?"
SAMPLE_NOTICE = (
    "SAMPLE DATA: bundled sample responses shaped like the real APIs, not live data; "
    "the numbers illustrate the pipeline, they do not answer the question."
)
FILES = ("answer.json", "chart.png", "report.md")


@dataclass(frozen=True)
class Details:
    trailing_months: int
    launches_in_trailing_window: int
    launches_per_year: float
    satellites_per_launch_all_time: float
    decays_per_month: float
    satellites_launched: int
    satellites_decayed: int
    starlink_launches: int
    first_launch_date: str | None
    last_launch_date: str | None
    starlink_launches_per_year: dict[str, int]


@dataclass(frozen=True)
class Scenario:
    scenario: str
    description: str
    as_of: str
    satellites_in_orbit: int
    launches_per_month: float
    cadence_slope_per_month: float
    satellites_per_launch: float
    decays_per_month: float
    reaches_target: bool
    reaches_target_month: str | None  # YYYY-MM
    reaches_target_on: str | None
    months_needed: float | None
    launches_needed: int | None
    # The month's interval, from the rolling backtest's growth ratios (None without one; the latest
    # end is also None when the band's low line never reaches the target).
    reaches_target_earliest_month: str | None = None  # YYYY-MM
    reaches_target_latest_month: str | None = None
    backtest_mean_abs_error_pct: float | None = None  # mean over the horizons
    is_headline: bool = False

    @property
    def label(self) -> str:
        return self.scenario.replace("_", " ")


@dataclass(frozen=True)
class Backtest:
    """The rolling-origin backtest of one scenario (or the naive baseline) at one horizon."""

    scenario: str
    horizon_months: int
    origins: int
    first_origin: str
    last_origin: str
    mean_abs_error_pct: float
    mean_error_pct: float  # above 0: the forecast ran high
    skill_vs_naive: float | None  # 1 - error / the naive baseline's
    growth_ratio_low: float | None  # the interval: actual growth / forecast growth, low and high percentile
    growth_ratio_high: float | None
    growth_ratios: int  # origins whose forecast grew: what the interval and its coverage count
    coverage: float | None  # share of them inside the interval (in sample)
    origins_out_of_sample: int | None
    coverage_out_of_sample: float | None  # inside the interval of the origins checked before them

    @property
    def label(self) -> str:
        return "naive (no growth)" if self.scenario == "naive" else self.scenario.replace("_", " ")


@dataclass(frozen=True)
class Assumptions:
    """What the forecast assumes (each a setting; unset rates are measured)."""

    target_satellites: int
    cadence_window_months: int
    trend_window_months: int
    satellites_per_launch: float
    satellites_per_launch_from: str  # "measured" (over the cadence window) or "SATELLITES_PER_LAUNCH"
    decays_per_month: float
    decays_per_month_from: str  # "measured" or "DECAYS_PER_MONTH"


@dataclass(frozen=True)
class Interval:
    """The headline's interval: what it claims, how it is made, and how often it held."""

    scenario: str
    low_percentile: float
    high_percentile: float
    claimed_coverage: float  # (high - low) / 100
    coverage: float | None  # pooled over the horizons, in sample
    checked: int  # origin x horizon pairs behind `coverage`
    coverage_out_of_sample: float | None
    checked_out_of_sample: int
    method: str


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    url: str | None
    fetched_at: str | None
    as_of: str  # the newest date in its records (where the data came from; after ds for a backfill)
    satellites: int
    snapshot_ds: str | None
    used_for_forecast: bool
    age_days: int  # from `as_of` to ds; below 0 when the data is newer than ds
    # The run's `dbt source freshness` verdict (pass | warn | error), or `unchecked`; stale = warn or error.
    freshness: str
    stale_after_days: float | None
    error_after_days: float | None
    stale: bool


@dataclass(frozen=True, kw_only=True)
class Answer:
    question: str
    ds: str
    # The date the answer describes: ds, or the data's newest date when that is older. The data
    # came from: the snapshot of snapshot_ds, fetched at data_fetched_at, its newest record data_as_of.
    as_of: str
    data_as_of: str | None = None
    data_fetched_at: str | None = None
    snapshot_ds: str | None = None
    # When the newest data the answer uses was loaded: the same warehouse gives the same answer.json,
    # byte for byte (a rerun of `report`, a restore from backup).
    data_loaded_at: str | None
    sample_data: bool
    notice: str | None  # only with sample data (absent from answer.json otherwise)
    source: str
    source_label: str
    stale: bool
    stale_since: str | None
    stale_after_days: float | None
    target_satellites: int | None
    # the three sub-answers
    satellites_in_orbit: int
    launches_per_month: float
    satellites_per_launch: float
    # the forecast: the scenario with the lowest backtest error, why, and what it assumes
    headline_scenario: str | None = None
    headline_reason: str | None = None
    assumptions: Assumptions | None = None
    details: Details
    scenarios: tuple[Scenario, ...]
    backtest: tuple[Backtest, ...]
    interval: Interval | None = None
    sources: tuple[Source, ...]
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for name in ("scenarios", "backtest", "sources"):
            out[name] = list(out[name])
        if self.notice is None:
            del out["notice"]
        return out

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        def optional(kind: type, value: dict | None) -> Any:
            return None if value is None else kind(**value)

        try:
            return cls(
                **{
                    **data,
                    "notice": data.get("notice"),
                    "assumptions": optional(Assumptions, data.get("assumptions")),
                    "interval": optional(Interval, data.get("interval")),
                    "details": Details(**data["details"]),
                    "scenarios": tuple(Scenario(**s) for s in data["scenarios"]),
                    "backtest": tuple(Backtest(**b) for b in data["backtest"]),
                    "sources": tuple(Source(**s) for s in data["sources"]),
                }
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not an answer.json of this version: {exc}") from None

    @classmethod
    def from_json(cls, body: bytes | str) -> Answer:
        return cls.from_dict(json.loads(body))

    @property
    def forecast_source(self) -> Source:
        return next(s for s in self.sources if s.used_for_forecast)

    @property
    def headline(self) -> Scenario | None:
        return next((s for s in self.scenarios if s.is_headline), None)
