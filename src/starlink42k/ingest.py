"""Ingest: the steps that bring one dataset, for one logical date (ds), from its source into the
warehouse's raw schema.

extract  source API → lake raw/<source>/<dataset>/ds=<ds>/<dataset>.json (+ _manifest.json)
to-csv   lake raw → lake curated/<source>/<dataset>/ds=<ds>/<dataset>.csv (+ rejects, manifest)
load     lake curated → warehouse raw.<dataset>'s pending table for ds; partition ds once the
         ds is published, all its datasets at once (publish.py)

Each step reads only what the previous one committed (its manifest), so any step can be rerun
on its own, and a rerun replaces exactly that ds.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from . import datasets
from . import lake as lakes
from . import publish as publishing
from . import warehouse as wh
from .context import Context
from .curate import check_rejects, json_bytes, rejects_jsonl, write_csv_file
from .errors import LakeError, SourceResponseError, WarehouseError
from .log import event, get_logger, timed
from .sources import celestrak, spacex
from .sources.snapshot import Snapshot, json_array_items, utc_now_iso

log = get_logger("ingest")


# --- extract -------------------------------------------------------------------------------------


def fetch(ctx: Context, dataset: str) -> Snapshot:
    """Every document of ``dataset`` from its source; nothing is written."""
    spec = datasets.get(dataset)
    with timed(log, "extract.fetch", f"{dataset}: fetching from {spec.source}", dataset=dataset) as out:
        if spec.source == "spacex":
            snap = spacex.fetch(ctx.http, ctx.settings.spacex_api_url, dataset, ctx.settings.spacex_page_size)
        else:
            snap = celestrak.fetch(ctx.http, ctx.settings.celestrak_url, ctx.settings.celestrak_format)
        if not snap.records:
            snap.close()
            raise SourceResponseError(
                f"{snap.source_url} returned no {dataset} documents; refusing to replace ds with an empty snapshot"
            )
        out.update(docs=snap.records, pages=snap.pages)
    return snap


def raw_json(docs: list[dict[str, Any]]) -> bytes:
    """A JSON array with one document per line: valid JSON, and diffable line by line (the SpaceX
    extract writes the same, page by page: sources/spacex.py)."""
    return b"[\n" + b",\n".join(json_bytes(d) for d in docs) + b"\n]\n"


def write_raw(ctx: Context, snap: Snapshot, ds: str) -> dict[str, Any]:
    spec = datasets.get(snap.dataset)
    key = lakes.raw_key(spec.source, spec.name, ds, snap.raw_format)
    manifest = {
        "dataset": spec.name,
        "ds": ds,
        "source": spec.source,
        "source_url": snap.source_url,
        "fetched_at": snap.fetched_at,
        "record_count": snap.records,
        "total_docs": snap.total_docs,
        "pages": snap.pages,
        "request": snap.request,
        "format": snap.raw_format,
    }
    content_type = "text/csv" if snap.raw_format == "csv" else "application/json"
    manifest = lakes.write_partition(ctx.lake, key, snap.body, manifest, content_type)
    event(
        log,
        "extract.written",
        f"{spec.name}: {snap.records} documents → {ctx.lake.uri(key)}",
        dataset=spec.name,
        ds=ds,
        records=snap.records,
        bytes=manifest["bytes"],
    )
    return manifest


def extract(ctx: Context, dataset: str, ds: str) -> dict[str, Any]:
    with contextlib.closing(fetch(ctx, dataset)) as snap:
        return write_raw(ctx, snap, ds)


# --- to-csv --------------------------------------------------------------------------------------

SCRATCH_PREFIX = "starlink42k-to-csv."


@contextmanager
def scratch_folder() -> Iterator[Path]:
    """A folder of its own in TMPDIR for the CSV being written, removed after. Its name records its
    owner (``starlink42k-to-csv.<host>-<pid>.<random>``): a to-csv killed mid-way leaves it, and the
    next to-csv removes it once that owner is gone (lake.owner_gone), as the lake sweeps temp files."""
    root = Path(tempfile.gettempdir())
    for folder in root.glob(SCRATCH_PREFIX + "*"):
        try:
            if folder.is_dir() and lakes.owner_gone(folder.name[len(SCRATCH_PREFIX) :].rpartition(".")[0], folder):
                shutil.rmtree(folder, ignore_errors=True)
                event(log, "to_csv.swept", f"removed {folder}, left by a to-csv that is gone", folder=str(folder))
        except FileNotFoundError:  # another to-csv swept it first
            continue
    folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{lakes.owner_tag()}."))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def read_raw_documents(ctx: Context, raw_key: str, manifest: dict[str, Any], fmt: str) -> Iterator[Any]:
    """The raw object's documents, streamed from the lake one at a time; once they are all read its
    sha256 is checked against the manifest (LakeError: to-csv has written nothing yet)."""
    uri = ctx.lake.uri(raw_key)
    with lakes.open_verified(ctx.lake, raw_key, manifest) as (stream, verifier):
        if fmt == "csv":
            yield from celestrak.records(stream, "csv", uri, LakeError)
        else:
            yield from json_array_items(stream, uri, LakeError)
        verifier.check()


def to_csv(ctx: Context, dataset: str, ds: str) -> dict[str, Any]:
    spec = datasets.get(dataset)
    with timed(log, "to_csv", f"{dataset}: raw → typed CSV", dataset=dataset, ds=ds) as out:
        raw_manifest = lakes.read_manifest(
            ctx.lake, lakes.raw_key(spec.source, dataset, ds), f"starlink42k extract {dataset} --ds {ds}"
        )
        fmt = raw_manifest.get("format", "json")
        raw_key = lakes.raw_key(spec.source, dataset, ds, fmt)
        docs = read_raw_documents(ctx, raw_key, raw_manifest, fmt)
        csv_key = lakes.curated_key(spec.source, dataset, ds)
        with scratch_folder() as tmp:
            path = tmp / f"{dataset}.csv"
            result = write_csv_file(spec, docs, path)
            rejects_key = lakes.rejects_key(spec.source, dataset, ds)
            # The rejects are written first, so that a failed check leaves the evidence (and the
            # curated CSV as it was).
            ctx.lake.put_bytes(rejects_key, rejects_jsonl(result.rejects), "application/x-ndjson")
            check_rejects(dataset, result, ctx.settings.reject_threshold)
            manifest = lakes.write_partition(
                ctx.lake,
                csv_key,
                path,
                {
                    "dataset": dataset,
                    "ds": ds,
                    "rows": result.rows,
                    "rejects": len(result.rejects),
                    "excluded": result.excluded,
                    "columns": spec.column_names,
                    "raw_sha256": raw_manifest["sha256"],
                    # records fetched: rows + rejects + excluded (load records all four in raw.load_log)
                    "record_count": raw_manifest.get("record_count"),
                    # where and when the snapshot was fetched: load records both in raw.load_log
                    "source_url": raw_manifest.get("source_url"),
                    "fetched_at": raw_manifest.get("fetched_at"),
                    "created_at": utc_now_iso(),
                },
                "text/csv",
            )
        out.update(rows=result.rows, rejects=len(result.rejects), excluded=result.excluded)
    if result.rejects:
        event(
            log,
            "to_csv.rejects",
            f"{dataset}: {len(result.rejects)} records rejected, see {ctx.lake.uri(rejects_key)}",
            dataset=dataset,
            rejects=len(result.rejects),
        )
    return manifest


# --- load ----------------------------------------------------------------------------------------


def load(ctx: Context, dataset: str, ds: str, *, publish: bool = True) -> wh.LoadResult:
    """Load one dataset's CSV for ``ds``, unpublished; then publish ds if every dataset of DATASETS
    is loaded for it (``publish=False``: the caller publishes, as `run` does after its last load)."""
    spec = datasets.get(dataset)
    csv_key = lakes.curated_key(spec.source, dataset, ds)
    with timed(log, "load", f"{dataset}: CSV → warehouse raw.{dataset}", dataset=dataset, ds=ds) as out:
        manifest = lakes.read_manifest(ctx.lake, csv_key, f"starlink42k to-csv {dataset} --ds {ds}")
        uri = ctx.lake.uri(csv_key)
        with wh.session(ctx.warehouse) as conn, ctx.lake.open(csv_key) as stream:
            try:
                result = wh.load_csv(
                    conn,
                    spec,
                    ds,
                    stream,
                    expected_rows=manifest["rows"],
                    expected_sha256=manifest["sha256"],
                    source_uri=uri,
                    fetched_from=manifest.get("source_url"),
                    fetched_at=manifest.get("fetched_at"),
                    counts={
                        "fetched": manifest.get("record_count"),
                        "rejected": manifest.get("rejects"),
                        "excluded": manifest.get("excluded"),
                    },
                )
            except (psycopg.Error, WarehouseError) as exc:  # WarehouseError: a wait ran out, or the rows differ
                rerun = f"`starlink42k load {dataset} --ds {ds}`" if publish else f"`starlink42k run --ds {ds}`"
                raise WarehouseError(
                    f"loading {uri} into raw.{dataset} failed: {publishing.short(exc)}; nothing of this load "
                    f"was kept. {publishing.kept(ctx, ds, rerun)}"
                ) from None
        out.update(rows=result.rows, table=result.table)
    if publish:
        publishing.publish(ctx, ds)
    return result
