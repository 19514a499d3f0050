"""Strict converters from source JSON values to typed values; each raises ``Reject`` with a reason.

They accept what the sources really send (numbers as numbers or numeric strings, both date formats
the SpaceX API uses) and refuse anything else, so that a record is either typed or rejected.
Each converter declares the PostgreSQL types it can fill (``pg_types``): a dataset's column table
pairs them, and a mismatch fails at import (datasets.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

Converter = Callable[[Any, str], Any]


class Reject(ValueError):
    """A record cannot be typed; the message is the reason written to the rejects file."""


def fills(*pg_types: str) -> Callable[[Converter], Converter]:
    """Declare the PostgreSQL column types a converter's values fit."""

    def mark(func: Converter) -> Converter:
        func.pg_types = frozenset(pg_types)  # type: ignore[attr-defined]
        return func

    return mark


@fills("text")
def text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise Reject(f"{field}: expected a string, got {type(value).__name__} {value!r:.40}")


@fills("text")
def stripped(value: Any, field: str) -> str | None:
    """Text without surrounding blanks (fixed-width codes such as SATCAT's)."""
    result = text(value, field)
    return result.strip() if result else result


def one_of(choices: Iterable[str]) -> Converter:
    """Text that must be one of ``choices`` (null allowed)."""
    allowed = tuple(choices)

    @fills("text")
    def choice(value: Any, field: str) -> str | None:
        result = text(value, field)
        if result is not None and result not in allowed:
            raise Reject(f"{field}: {result!r} is not one of {', '.join(allowed)}")
        return result

    return choice


@fills("integer", "bigint")
def integer(value: Any, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Reject(f"{field}: expected an integer, got a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise Reject(f"{field}: expected an integer, got {value!r:.40}")


@fills("double precision")
def number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Reject(f"{field}: expected a number, got a boolean")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise Reject(f"{field}: expected a number, got {value!r:.40}") from None
    if not math.isfinite(result):
        raise Reject(f"{field}: {value!r} is not a finite number")
    return result


@fills("boolean")
def boolean(value: Any, field: str) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false", "0", "1"):
        return value.lower() in ("true", "1")
    raise Reject(f"{field}: expected a boolean (true/false/0/1), got {value!r:.40}")


@fills("timestamptz")
def timestamp(value: Any, field: str) -> datetime | None:
    """``2020-10-13 02:56:59.566560``, ``2020-10-13T02:56:59Z``, ``...+02:00``, or a date; UTC."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Reject(f"{field}: expected a date-time string, got {type(value).__name__}")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Reject(f"{field}: {value!r:.40} is not a date-time") from None
    if parsed.tzinfo is None:  # Space-Track and SATCAT times are UTC without an offset
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@fills("date")
def day(value: Any, field: str) -> date | None:
    """A calendar date; a date-time is accepted and cut to its UTC date."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            if len(value.strip()) == 10:
                return date.fromisoformat(value.strip())
            ts = timestamp(value, field)
            return ts.date() if ts else None
        except (ValueError, Reject):
            pass
    raise Reject(f"{field}: {value!r:.40} is not a date (YYYY-MM-DD)")


def _json_text(value: Any) -> str:
    """Nested values stay JSON text (never a Python repr), so that the warehouse can parse them."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@fills("jsonb")
def json_list(value: Any, field: str) -> str | None:
    """A JSON array, kept as JSON text; a missing array is an empty one."""
    value = [] if value is None else value
    if not isinstance(value, list):
        raise Reject(f"{field}: expected a JSON list, got {type(value).__name__}")
    return _json_text(value)


@fills("jsonb")
def json_objects(value: Any, field: str) -> str | None:
    """A JSON array of objects, kept as JSON text; a missing array is an empty one."""
    value = [] if value is None else value
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise Reject(f"{field}: expected a list of objects")
    return _json_text(value)


@fills("integer")
def count(value: Any, field: str) -> int:
    """How many items a JSON array holds; a missing array holds none."""
    value = [] if value is None else value
    if not isinstance(value, list):
        raise Reject(f"{field}: expected a JSON list, got {type(value).__name__}")
    return len(value)
