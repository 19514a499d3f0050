"""`starlink42k status`: the pipeline's own figures per ds, read from the warehouse only.

Per ds and dataset: the records fetched (the raw snapshot's count), rejected and left outside the
dataset's selection by `to-csv`, and the rows loaded (all four written by `load`, into raw.load_log
once the ds is published, raw.load_pending until then: a ds not published whole is said so, with
what is loaded and what is not); per ds, that run's answer from marts.fct_constellation_daily, as of
its ds (so a backfill's rows are the point-in-time series): satellites in orbit and the month each
scenario reaches the target, with the headline scenario's interval. The same figures as the Grafana
dashboard's pipeline panels
(charts/starlink-platform/dashboards/starlink42k.json), without a cluster.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

import psycopg
from psycopg.rows import dict_row

from . import warehouse as wh
from .context import Context
from .publish import describe

# Tolerant of a raw.load_log written before the counts were recorded: missing columns read as null.
LOADS_SQL = """
with loads as (
    select to_jsonb(l) as l, true as published from raw.load_log as l
    {pending}
)
select l ->> 'dataset' as dataset, (l ->> 'ds')::date as ds, (l ->> 'rows')::bigint as loaded,
       (l ->> 'fetched_records')::bigint as fetched,
       (l ->> 'rejected_records')::bigint as rejected,
       (l ->> 'excluded_records')::bigint as excluded,
       (l ->> 'loaded_at')::timestamptz as loaded_at, published
from loads
where (l ->> 'ds')::date in (select distinct (l ->> 'ds')::date from loads order by 1 desc limit %(last)s)
order by ds desc, dataset, published desc
"""
PENDING_SQL = "union all select to_jsonb(p), false from raw.load_pending as p"

# As JSON rows: rows written before the ds column have their snapshot's ds (as dbt's post-hook makes
# them at the next build), and columns added since read as null.
ANSWERS_SQL = """
select to_jsonb(d) as row
from marts.fct_constellation_daily as d
where coalesce((to_jsonb(d) ->> 'ds')::date, d.snapshot_ds) = any(%(ds)s)
"""
ANSWER_FIELDS = (
    "as_of_date",
    "forecast_source",
    "satellites_in_orbit",
    "constant_cadence_reaches_target_month",
    "trend_cadence_reaches_target_month",
    "headline_scenario",
    "headline_earliest_month",
    "headline_latest_month",
)


@dataclass
class DatasetFigures:
    dataset: str
    fetched: int | None
    rejected: int | None
    excluded: int | None
    loaded: int
    loaded_at: str
    published: bool = True  # False: loaded, and waiting for the rest of its ds to be published with it


@dataclass
class DsStatus:
    ds: str
    datasets: list[DatasetFigures] = field(default_factory=list)
    # What is loaded and not published, and what is not loaded, when some of the ds is unpublished.
    unpublished: str | None = None
    # From the ds's row in marts.fct_constellation_daily; None until dbt has built that ds.
    as_of_date: str | None = None
    forecast_source: str | None = None
    satellites_in_orbit: int | None = None
    constant_cadence_reaches_target_month: str | None = None
    trend_cadence_reaches_target_month: str | None = None
    headline_scenario: str | None = None
    headline_earliest_month: str | None = None
    headline_latest_month: str | None = None


def _exists(conn: psycopg.Connection, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]


def read_status(conn: psycopg.Connection, last: int = 10, datasets: tuple[str, ...] = ()) -> list[DsStatus]:
    """The newest ``last`` ds loaded, newest first; ``datasets``: the run's DATASETS, which a ds is
    published with."""
    if not _exists(conn, "raw.load_log"):
        return []
    by_ds: dict[str, DsStatus] = {}
    pending = PENDING_SQL if _exists(conn, "raw.load_pending") else ""
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(LOADS_SQL.format(pending=pending), {"last": last}).fetchall():
            ds = row["ds"].isoformat()
            by_ds.setdefault(ds, DsStatus(ds)).datasets.append(
                DatasetFigures(
                    dataset=row["dataset"],
                    fetched=row["fetched"],
                    rejected=row["rejected"],
                    excluded=row["excluded"],
                    loaded=row["loaded"],
                    loaded_at=row["loaded_at"].isoformat(),
                    published=row["published"],
                )
            )
        for status in by_ds.values():
            if not all(d.published for d in status.datasets):
                published = {d.dataset for d in status.datasets if d.published}
                waiting = {d.dataset for d in status.datasets if not d.published}
                names = tuple(dict.fromkeys((*datasets, *sorted(published | waiting))))
                state = wh.DsState(
                    status.ds, names, tuple(n for n in names if n in published), tuple(n for n in names if n in waiting)
                )
                status.unpublished = f"{describe(state)}; a rerun completes and publishes it"
        if by_ds and _exists(conn, "marts.fct_constellation_daily"):
            for (row,) in conn.execute(ANSWERS_SQL, {"ds": [date.fromisoformat(d) for d in by_ds]}).fetchall():
                status = by_ds[row.get("ds") or row["snapshot_ds"]]
                for key in ANSWER_FIELDS:
                    setattr(status, key, row.get(key))
    return list(by_ds.values())


def status_json(warehouse: str, rows: list[DsStatus]) -> str:
    return json.dumps({"warehouse": warehouse, "ds": [asdict(r) for r in rows]}, indent=2)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _month(value: str | None) -> str:
    return "never" if value is None else value[:7]


def status_text(warehouse: str, rows: list[DsStatus]) -> str:
    if not rows:
        return f"warehouse {warehouse}: nothing loaded yet (raw.load_log is empty); run `starlink42k run` first"
    lines = [f"warehouse {warehouse}: the newest {len(rows)} ds, newest first ('-': not recorded for that load)"]
    for r in rows:
        lines.append("")
        if r.satellites_in_orbit is None and not any(d.published for d in r.datasets):
            answer = "no answer for this ds: it is not published"
        elif r.satellites_in_orbit is None:
            answer = "no answer yet for this ds (dbt has not built it: starlink42k transform --ds " + r.ds + ")"
        else:
            answer = (
                f"in orbit {r.satellites_in_orbit:,} (as of {r.as_of_date}, {r.forecast_source}); target reached "
                f"{_month(r.constant_cadence_reaches_target_month)} at constant cadence, "
                f"{_month(r.trend_cadence_reaches_target_month)} at trend cadence"
            )
            if r.headline_earliest_month:
                answer += (
                    f"; headline {r.headline_scenario.replace('_', ' ')}, interval "
                    f"{_month(r.headline_earliest_month)} to {_month(r.headline_latest_month)}"
                )
        lines.append(f"ds {r.ds}  {answer}")
        if r.unpublished:
            lines.append(f"  {r.unpublished}")
        lines.append(f"  {'dataset':<10} {'fetched':>9} {'rejected':>9} {'excluded':>9} {'loaded':>9}  loaded at")
        for d in r.datasets:
            lines.append(
                f"  {d.dataset:<10} {_count(d.fetched):>9} {_count(d.rejected):>9} {_count(d.excluded):>9} "
                f"{_count(d.loaded):>9}  {d.loaded_at[:19].replace('T', ' ')}{'' if d.published else '  unpublished'}"
            )
    return "\n".join(lines)


def show(ctx: Context, last: int = 10, as_json: bool = False) -> str:
    with wh.session(ctx.warehouse) as conn:
        rows = read_status(conn, last, ctx.settings.datasets)
    where = ctx.warehouse.display_url()
    return status_json(where, rows) if as_json else status_text(where, rows)
