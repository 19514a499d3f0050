"""The `freshness` step: `dbt source freshness` for the run's datasets, as of the run's logical date,
kept in the warehouse (raw.source_freshness) so that the report states the same result.

The thresholds live in the dbt sources (dbt/models/staging/*/_*__sources.yml): STALE_AFTER_DAYS
warns for every source; SATCAT_ERROR_AFTER_DAYS is an error for CelesTrak (a frozen catalogue
must not answer quietly). The sources shift their timestamps by now() - ds, so dbt's ages are ages
on the run's logical date, and a rerun or backfill of a ds gets the same verdict.

In the cluster dbt runs in its own image (the DAG's freshness pod: dbt writes sources.json, then this
step reads it with `--from`); embedded, this step runs dbt itself. With `--fail-on-error` (the
DAG's gate) an error fails the step with one line naming the source, its as-of date and the
threshold; `run` only warns.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from . import datasets
from . import warehouse as wh
from .context import Context
from .dbt_runner import dbt, dbt_state_lock
from .errors import PipelineError, StaleSourceError
from .log import event, get_logger, timed

log = get_logger("freshness")
PERIOD_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0}
LABELS = {
    "spacex.launches": "SpaceX API launches",
    "spacex.starlink": "SpaceX API",
    "celestrak.satcat": "CelesTrak SATCAT",
}


@dataclass(frozen=True)
class SourceFreshness:
    source: str  # <dbt source>.<table>, e.g. celestrak.satcat
    status: str  # pass | warn | error | runtime error (dbt's words)
    as_of: str | None  # the newest record's date
    age_days: int | None  # on the run's logical date
    warn_after_days: float | None
    error_after_days: float | None

    def describe(self, ds: str) -> str:
        label = f"{LABELS.get(self.source, self.source)} ({self.source})"
        if self.status == "runtime error":
            return f"{label}: dbt could not check its freshness"
        threshold = self.error_after_days if self.status == "error" else self.warn_after_days
        verdict = {"pass": "is fresh", "warn": "is stale", "error": "is too old"}.get(self.status, self.status)
        return f"{label} {verdict}: its newest record is from {self.as_of}, {self.age_days} days before {ds}" + (
            f" (threshold {threshold:g} days)" if threshold is not None and self.status != "pass" else ""
        )


def sources_of(ctx: Context) -> list[str]:
    """The dbt sources (<source>.<table>) of the run's datasets."""
    return [f"{datasets.get(name).source}.{name}" for name in ctx.settings.datasets]


def _days(threshold: dict[str, Any] | None) -> float | None:
    if not threshold or threshold.get("count") is None:
        return None
    return threshold["count"] * PERIOD_DAYS[threshold["period"]]


def parse(sources_json: bytes, ds: str) -> list[SourceFreshness]:
    """dbt's sources.json as one result per source; ages and dates on the run's logical date."""
    try:
        results = json.loads(sources_json)["results"]
    except (ValueError, KeyError, TypeError) as exc:
        raise PipelineError(f"dbt's sources.json cannot be read ({exc}): was `dbt source freshness` run?") from None
    found = []
    for r in results:
        source = r["unique_id"].split(".", 2)[2]  # source.<project>.<source>.<table>
        criteria = r.get("criteria") or {}
        age = r.get("max_loaded_at_time_ago_in_s")
        age_days = int(age // 86400) if age is not None else None
        # The timestamps were shifted to the run's date: age on ds = ds - newest record.
        run_start = datetime.combine(date.fromisoformat(ds), datetime.min.time(), UTC)
        as_of = (run_start - timedelta(seconds=age)).date().isoformat() if age is not None else None
        found.append(
            SourceFreshness(
                source=source,
                status=r["status"],
                as_of=as_of,
                age_days=age_days,
                warn_after_days=_days(criteria.get("warn_after")),
                error_after_days=_days(criteria.get("error_after")),
            )
        )
    return sorted(found, key=lambda f: f.source)


def run_dbt(ctx: Context, ds: str) -> bytes:
    """`dbt source freshness` of the run's sources (exit 1 means a source is too old: a result)."""
    selection = [f"source:{s}" for s in sources_of(ctx)]
    with dbt_state_lock(ctx):  # sources.json is read before another dbt command can rewrite it
        dbt(ctx, "source", "freshness", "--select", *selection, ds=ds, ok_exit_codes=(0, 1))
        return (ctx.settings.data_dir / "dbt" / "target" / "sources.json").read_bytes()  # dbt's --target-path


def store(ctx: Context, ds: str, results: list[SourceFreshness]) -> None:
    """Replace ds's results in raw.source_freshness, in one transaction."""
    checked_at = datetime.now(UTC)
    with wh.session(ctx.warehouse) as conn:
        wh.create_raw_tables(conn)
        with conn.transaction():
            conn.execute("delete from raw.source_freshness where ds = %s", (ds,))
            for f in results:
                conn.execute(
                    """insert into raw.source_freshness
                       (ds, source, status, as_of, age_days, warn_after_days, error_after_days, checked_at)
                       values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                    (ds, f.source, f.status, f.as_of, f.age_days, f.warn_after_days, f.error_after_days, checked_at),
                )


def freshness(
    ctx: Context, ds: str, sources_json: Path | None = None, *, fail_on_error: bool = False
) -> list[SourceFreshness]:
    with timed(log, "freshness", "dbt source freshness, as of the run's date", ds=ds) as out:
        body = sources_json.read_bytes() if sources_json else run_dbt(ctx, ds)
        results = parse(body, ds)
        store(ctx, ds, results)
        out.update({f.source: f.status for f in results})
    for f in results:
        level = logging.INFO if f.status == "pass" else logging.WARNING
        event(log, "freshness.source", f.describe(ds), level=level, **asdict(f))
    errors = [f for f in results if f.status in ("error", "runtime error")]
    if errors and fail_on_error:
        raise StaleSourceError("freshness gate: " + "; ".join(f.describe(ds) for f in errors))
    return results
