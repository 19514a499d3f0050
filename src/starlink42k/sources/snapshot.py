"""What an extract returns: the documents, and where and when they came from."""

from __future__ import annotations

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
