"""Strict converters from source JSON values to typed values; each raises ``Reject`` with a reason.

They accept what the sources really send (numbers as numbers or numeric strings, both date formats
the SpaceX API uses) and refuse anything else, so that a record is either typed or rejected.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any


class Reject(ValueError):
    """A record cannot be typed; the message is the reason written to the rejects file."""


def text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    raise Reject(f"{field}: expected a string, got {type(value).__name__} {value!r:.40}")


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


def json_text(value: Any, field: str, kind: type = list) -> str | None:
    """Nested values stay JSON text (never a Python repr), so that the warehouse can parse them."""
    if value is None:
        return None
    if not isinstance(value, kind):
        raise Reject(f"{field}: expected a JSON {kind.__name__}, got {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


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
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return '"' + str(value).replace('"', '""') + '"'
