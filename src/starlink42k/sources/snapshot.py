"""What an extract returns: the documents, and where and when they came from."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Snapshot:
    dataset: str
    docs: list[dict[str, Any]]
    source_url: str
    total_docs: int
    pages: int
    request: dict[str, Any] = field(default_factory=dict)
    fetched_at: str = field(default_factory=utc_now_iso)
    raw: bytes | None = None  # the body as the source sent it, when it is kept as is
    raw_format: str = "json"


def json_documents(body: bytes | str, what: str, error: type[Exception]) -> list[Any]:
    """The documents of a JSON array (an API's answer, or its copy in the lake); anything else
    raises ``error`` naming ``what`` and the problem."""
    try:
        docs = json.loads(body)
    except RecursionError:
        raise error(f"{what} nests deeper than any document does; refused as malformed") from None
    except json.JSONDecodeError as exc:
        start = body[:80].decode("utf-8", "replace") if isinstance(body, bytes) else body[:80]
        raise error(f"{what} is not valid JSON ({exc}); it starts {start!r}") from None
    if not isinstance(docs, list):
        raise error(f"{what}: expected a JSON array of documents, got {type(docs).__name__}")
    return docs
