"""SpaceX API v4: ``POST /v4/<route>/query``, page by page, with an explicit sort.

The API paginates with mongoose-paginate-v2: each page carries ``docs``, ``totalDocs``, ``page``,
``totalPages`` and ``hasNextPage``. Without a sort MongoDB may return documents in a different
order on each page, so every query sends one on a unique key.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from ..curate import json_bytes
from ..errors import SourceResponseError
from ..http_client import HttpClient
from ..log import event, get_logger
from .snapshot import Snapshot, spool

log = get_logger("extract")

ROUTES: dict[str, dict[str, Any]] = {
    # flight_number is unique per launch; _id is the unique key MongoDB stores for a starlink record.
    "launches": {"route": "launches", "sort": {"flight_number": "asc"}},
    "starlink": {"route": "starlink", "sort": {"_id": "asc"}},
}
_PAGE_KEYS = {"docs": list, "totalDocs": int, "page": int, "totalPages": int, "hasNextPage": bool}


def _check_page(payload: Any, what: str, expected_page: int) -> None:
    if not isinstance(payload, dict):
        raise SourceResponseError(
            f"{what}: expected a JSON object with docs/totalDocs/hasNextPage, got {type(payload).__name__}"
        )
    for key, kind in _PAGE_KEYS.items():
        if key not in payload:
            raise SourceResponseError(f"{what}: the response has no {key!r} field (keys: {sorted(payload)[:12]})")
        value = payload[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise SourceResponseError(
                f"{what}: {key!r} should be {kind.__name__}, got {type(value).__name__} {str(value)[:60]!r}"
            )
    if payload["page"] != expected_page:
        raise SourceResponseError(f"{what}: asked for page {expected_page}, the API answered page {payload['page']}")
    for i, doc in enumerate(payload["docs"]):
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise SourceResponseError(f"{what}: document {i} is not an object with a string 'id'")


def fetch(client: HttpClient, base_url: str, dataset: str, page_size: int) -> Snapshot:
    """Every document of one route, in sort order; fails if the pages do not add up. The documents
    are spooled page by page as the lake keeps them (a JSON array, one document per line)."""
    body = spool()
    try:
        return _fetch(client, base_url, dataset, page_size, body)
    except BaseException:
        body.close()
        raise


def _fetch(client: HttpClient, base_url: str, dataset: str, page_size: int, body: IO[bytes]) -> Snapshot:
    spec = ROUTES[dataset]
    url = f"{base_url}/{spec['route']}/query"
    ids: set[str] = set()
    count, repeated = 0, 0
    page, total_docs, total_pages = 1, None, None
    body.write(b"[\n")
    while True:
        what = f"SpaceX API {spec['route']} page {page}"
        request = {"query": {}, "options": {"page": page, "limit": page_size, "sort": spec["sort"]}}
        payload = client.request_json("POST", url, what=what, json_body=request)
        _check_page(payload, what, page)
        if total_docs is None:
            total_docs, total_pages = payload["totalDocs"], payload["totalPages"]
        elif payload["totalDocs"] != total_docs:
            raise SourceResponseError(
                f"{what}: totalDocs changed from {total_docs} to {payload['totalDocs']} while paging; "
                "the source changed during the extract, run it again"
            )
        for doc in payload["docs"]:
            body.write((b",\n" if count else b"") + json_bytes(doc))
            count += 1
            repeated += doc["id"] in ids
            ids.add(doc["id"])
        event(
            log,
            "extract.page",
            f"{dataset}: page {page}/{total_pages}",
            dataset=dataset,
            page=page,
            pages=total_pages,
            docs=count,
            total_docs=total_docs,
        )
        if not payload["hasNextPage"]:
            break
        if page >= max(total_pages, 1) or not payload["docs"]:
            raise SourceResponseError(
                f"{what}: hasNextPage is true but page {page} of {total_pages} returned "
                f"{len(payload['docs'])} documents; refusing to page forever"
            )
        page += 1
    body.write(b"\n]\n")
    if count != total_docs:
        raise SourceResponseError(
            f"SpaceX API {spec['route']}: fetched {count} documents but totalDocs is {total_docs}"
        )
    if repeated:
        raise SourceResponseError(
            f"SpaceX API {spec['route']}: {repeated} documents came twice across pages "
            "(the sort is not stable); nothing was written"
        )
    event(log, "extract.fetched", f"{dataset}: {count} documents", level=logging.DEBUG, dataset=dataset)
    return Snapshot(
        dataset=dataset,
        body=body,
        records=count,
        source_url=url,
        total_docs=total_docs,
        pages=page,
        request={"query": {}, "sort": spec["sort"], "limit": page_size},
    )
