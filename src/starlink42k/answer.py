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

    @property
    def label(self) -> str:
        return self.scenario.replace("_", " ")


@dataclass(frozen=True)
class Backtest:
    scenario: str
    cutoff_date: str
    checked_on: str
    horizon_months: int
    in_orbit_at_cutoff: int
    predicted_in_orbit: int
    actual_in_orbit: int | None  # null while checked_on is after the data's as-of date
    error: int | None
    error_pct: float | None


@dataclass(frozen=True)
class Source:
    name: str
    label: str
    url: str | None
    fetched_at: str | None
    as_of: str
    satellites: int
    snapshot_ds: str | None
    used_for_forecast: bool
    age_days: int
    # The run's `dbt source freshness` verdict (pass | warn | error), or `unchecked`; stale = warn or error.
    freshness: str
    stale_after_days: float | None
    error_after_days: float | None
    stale: bool


@dataclass(frozen=True)
class Answer:
    question: str
    ds: str
    # When the newest data the answer uses was loaded: the same warehouse gives the same answer.json,
    # byte for byte (a rerun of `report`, a restore from backup).
    data_loaded_at: str | None
    sample_data: bool
    notice: str | None  # only with sample data (absent from answer.json otherwise)
    as_of: str
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
    details: Details
    scenarios: tuple[Scenario, ...]
    backtest: tuple[Backtest, ...]
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
        try:
            return cls(
                **{
                    **data,
                    "notice": data.get("notice"),
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
