"""Raw documents → a typed CSV plus a rejects list; nothing is dropped without a reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from .convert import Reject
from .datasets import Dataset
from .errors import DataQualityError


@dataclass
class CurateResult:
    rows: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    excluded: int = 0  # records outside the dataset's selection (not errors)

    @property
    def total(self) -> int:
        return self.rows + len(self.rejects)


def csv_field(value: Any) -> str:
    """One field for PostgreSQL's CSV COPY: NULL is an empty unquoted field, text is always quoted."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return '"' + str(value).replace('"', '""') + '"'


def write_csv(dataset: Dataset, docs: Iterable[Any], out: IO[str]) -> CurateResult:
    """Write the header and one line per valid document; collect the rest as rejects."""
    names = dataset.column_names
    out.write(",".join(names) + "\n")
    result = CurateResult()
    seen: dict[str, set[Any]] = {key: set() for key in dataset.keys}
    for index, doc in enumerate(docs):
        try:
            if not isinstance(doc, dict):
                raise Reject(f"expected a JSON object, got {type(doc).__name__}")
            if dataset.select and not dataset.select(doc):
                result.excluded += 1
                continue
            row = dataset.flatten(doc)
            for key in dataset.keys:
                if row[key] in seen[key]:
                    raise Reject(f"{key}: duplicate {row[key]!r}")
            for key in dataset.keys:
                seen[key].add(row[key])
        except Reject as exc:
            result.rejects.append(
                {
                    "index": index,
                    "id": doc.get("id") if isinstance(doc, dict) else None,
                    "reason": str(exc),
                    "record": doc,
                }
            )
            continue
        out.write(",".join(csv_field(row[name]) for name in names) + "\n")
        result.rows += 1
    return result


def check_rejects(dataset: str, result: CurateResult, threshold: float) -> None:
    """Fail when the share of rejected records is above ``threshold`` (REJECT_THRESHOLD)."""
    if result.total == 0:
        left_out = f" ({result.excluded} records outside the selection)" if result.excluded else ""
        raise DataQualityError(f"{dataset}: the raw snapshot has no records to curate{left_out}")
    share = len(result.rejects) / result.total
    if share > threshold:
        reasons: dict[str, int] = {}
        for r in result.rejects:
            reason = r["reason"].split(":")[0]
            reasons[reason] = reasons.get(reason, 0) + 1
        top = ", ".join(f"{k} ({n})" for k, n in sorted(reasons.items(), key=lambda kv: -kv[1])[:5])
        raise DataQualityError(
            f"{dataset}: {len(result.rejects)} of {result.total} records rejected ({share:.1%}), above "
            f"REJECT_THRESHOLD={threshold:g}; most common problems: {top}. The curated CSV was not "
            "replaced; the rejects file shows each record and its reason."
        )


def json_bytes(value: Any) -> bytes:
    """Compact JSON as UTF-8; a value with a lone surrogate (valid JSON, not valid UTF-8) is written
    with \\u escapes instead, so that it round-trips exactly rather than failing the write."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(value, separators=(",", ":"), default=str).encode()


def rejects_jsonl(rejects: list[dict[str, Any]]) -> bytes:
    return b"".join(json_bytes(r) + b"\n" for r in rejects)


def write_csv_file(dataset: Dataset, docs: Iterable[Any], path: Path) -> CurateResult:
    with path.open("w", encoding="utf-8", newline="") as out:
        return write_csv(dataset, docs, out)
