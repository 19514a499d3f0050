"""What readers see, and when: a ds is published whole.

Every reader finds a ds through raw.load_log, which lists published loads only (warehouse.py). A
`load` puts one dataset into a pending table; the ds is published, all its datasets in one
transaction, once every dataset of DATASETS is loaded for it: by the load that completes it (each
`load` tries, as in Airflow the loads are parallel tasks), by `run` after its last load, or by
`starlink42k publish`, with which an operator also publishes one reloaded dataset beside the
published rest of its ds. Until then readers see the previous published data whole, and the
pending tables stay for the rerun, which completes and publishes them.
"""

from __future__ import annotations

import psycopg

from . import warehouse as wh
from .context import Context
from .errors import WarehouseError
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
    except psycopg.Error as exc:
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
    lines = str(exc).strip().splitlines()
    return " | ".join(lines[:3]) or type(exc).__name__
