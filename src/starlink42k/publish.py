"""What readers see, and when: a ds is published whole, and a report answers only from marts built
for its ds.

Every reader finds a ds through raw.load_log, which lists published loads only (warehouse.py). A
`load` puts one dataset into a pending table; the ds is published, all its datasets in one
transaction, once every dataset of DATASETS is loaded for it: by the load that completes it (each
`load` tries, as in Airflow the loads are parallel tasks), by `run` after its last load, or by
`starlink42k publish`, with which an operator also publishes one reloaded dataset beside the
published rest of its ds. Until then readers see the previous published data whole, and the
pending tables stay for the rerun, which completes and publishes them.

dbt records in marts.marts_build the ds it built the marts for, and the snapshot of each dataset it
read (dbt/models/marts/marts_build.sql); each `dbt build` or `dbt run` empties it first (but a
partial one for the same ds: a model retried, a backtest), so a build that did not finish leaves it
empty. `report` refuses a ds the marts were not built for.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg

from . import warehouse as wh
from .context import Context
from .errors import PipelineError, WarehouseError
from .log import event, get_logger

log = get_logger("publish")


# --- publishing ----------------------------------------------------------------------------------


def publish(ctx: Context, ds: str, *, keep_published: bool = False) -> wh.DsState:
    """Publish ``ds`` if it is whole; returns the state found. ``keep_published``: a dataset of
    DATASETS published for ds and not reloaded stays as it is (`starlink42k publish`)."""
    datasets = ctx.settings.datasets
    try:
        with wh.session(ctx.warehouse) as conn:
            state, published = wh.publish_ds(conn, ds, datasets, keep_published=keep_published)
    except (psycopg.Error, WarehouseError) as exc:  # WarehouseError: a lock wait ran out, naming its holder
        raise WarehouseError(
            f"publishing ds {ds} failed: {short(exc)}; nothing of it changed. "
            + kept(ctx, ds, f"`starlink42k publish --ds {ds}`")
        ) from None
    if published:
        event(
            log,
            "publish.done",
            f"ds {ds} published: {', '.join(published)}"
            + (f" (beside its published {', '.join(state.not_loaded)})" if state.not_loaded else ""),
            ds=ds,
            datasets=",".join(published),
        )
    elif state.pending:
        event(log, "publish.waiting", f"{describe(state)}; it is published when they are", ds=ds)
    else:
        event(log, "publish.nothing", f"ds {ds}: nothing is loaded and unpublished", ds=ds)
    return state


def describe(state: wh.DsState) -> str:
    """Which datasets of the ds are loaded and unpublished, which are not, and what readers see."""
    parts = [f"ds {state.ds} is not published" if not state.published else f"ds {state.ds} stays as published before"]
    if state.pending:
        parts.append(f"loaded and unpublished: {', '.join(state.pending)}")
    if state.not_loaded:
        parts.append(f"not loaded: {', '.join(state.not_loaded)}")
    return "; ".join(parts)


def kept(ctx: Context, ds: str, rerun: str) -> str:
    """What a failed load or publish of ``ds`` kept, read again from the warehouse, and what
    completes it."""
    try:
        with wh.session(ctx.warehouse) as conn:
            state = wh.ds_state(conn, ds, ctx.settings.datasets)
    except (psycopg.Error, WarehouseError) as exc:
        return (
            f"Which datasets of ds {ds} are loaded and unpublished could not be read ({short(exc)}): "
            f"`starlink42k status` shows it. Readers see published data only; a rerun ({rerun}) "
            "completes and publishes it."
        )
    readers = "its published data" if state.published else f"only ds published before {ds}"
    return f"{describe(state)}. Readers see {readers}; a rerun ({rerun}) completes and publishes it."


def short(exc: BaseException) -> str:
    """A database error's first lines, on one line."""
    lines = [line.strip() for line in str(exc).strip().splitlines()]
    return " | ".join(lines[:3]) or type(exc).__name__


# --- what the marts were built for ---------------------------------------------------------------

BUILT_SQL = """
select b.built_for_ds, b.built_at, s.key as dataset, (s.value ->> 'snapshot_ds')::date as snapshot_ds,
       (s.value ->> 'loaded_at')::timestamptz as loaded_at, now_.ds as now_ds, now_.loaded_at as now_loaded_at
from marts.marts_build as b
left join lateral jsonb_each(b.snapshots) as s on true
left join lateral (
    select l.ds, l.loaded_at from raw.load_log as l
    where l.dataset = s.key and l.ds <= b.built_for_ds order by l.ds desc limit 1
) as now_ on true
"""


def check_marts_built_for(ctx: Context, ds: str) -> None:
    """Refuse, saying why, unless the marts were built for ``ds`` from the snapshots that are still
    the ones published for it: otherwise a report would describe another ds, or a mix."""
    transform = f"`starlink42k transform --ds {ds}`, then `starlink42k report --ds {ds}`"
    with wh.session(ctx.warehouse) as conn:
        if not conn.execute("select to_regclass('marts.marts_build') is not null").fetchone()[0]:
            raise PipelineError(f"the marts are not built; run {transform}")
        rows: list[Any] = conn.execute(BUILT_SQL).fetchall()
    if not rows:
        raise PipelineError(
            f"refusing to report ds {ds}: the marts are not marked as built for any ds (a transform did not "
            f"finish, or dbt changed them since, e.g. a backtest); run {transform}"
        )
    built_for, built_at = rows[0][0], rows[0][1]
    when = built_at.strftime("%Y-%m-%d %H:%M:%S UTC") if built_at else "an unknown time"
    if built_for != date.fromisoformat(ds):
        built = f"ds {built_for}" if built_for else "no ds (dbt run without --vars ds)"
        raise PipelineError(
            f"refusing to report ds {ds}: the marts were built for {built} at {when}, so the answer would "
            f"describe that instead; run {transform}"
        )
    for _, _, dataset, snapshot, loaded_at, now_ds, now_loaded_at in rows:
        if dataset is not None and (snapshot, loaded_at) != (now_ds, now_loaded_at):
            since = f"{dataset} of ds {now_ds} was published since" if now_ds else f"no {dataset} is published now"
            raise PipelineError(
                f"refusing to report ds {ds}: the marts were built at {when} from {dataset} of ds {snapshot}, "
                f"and {since}; run {transform}"
            )
