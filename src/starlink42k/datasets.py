"""The datasets, as declared in datasets.toml: one table per dataset, one row per column (name,
PostgreSQL type, source path, converter, required). This module reads the file at import and
refuses one that does not hold together: a missing or extra key, an unknown type, converter or
selection, a converter that cannot fill its column's type, a key that is not a column. What fails
here fails on every command, at once, naming the dataset and the column.

Flattening a record is then the same few lines for every dataset: follow each column's path,
check that a required value is there, convert it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import convert
from .convert import Converter, Reject, fills, one_of, stripped

Row = dict[str, Any]
SPEC = Path(__file__).with_name("datasets.toml")
PG_TYPES = frozenset({"text", "integer", "bigint", "double precision", "boolean", "date", "timestamptz", "jsonb"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")


# --- what only these sources need ----------------------------------------------------------------

DATE_PRECISIONS = ("half", "quarter", "year", "month", "day", "hour")  # SpaceX API launches

# https://celestrak.org/satcat/satcat-format.php, "Operational Status Code"
OPS_STATUS = {
    "+": "operational",
    "-": "nonoperational",
    "P": "partially_operational",
    "B": "backup",
    "S": "spare",
    "X": "extended_mission",
    "D": "decayed",
    "?": "unknown",
}


@fills("text")
def ops_status(value: Any, field: str) -> str:
    """The status code spelled out; a code the format page does not list is kept as `unrecognised`."""
    return OPS_STATUS.get(stripped(value, field) or "?", "unrecognised")


def is_starlink_payload(record: dict[str, Any]) -> bool:
    name = str(record.get("OBJECT_NAME") or "").upper()
    return record.get("OBJECT_TYPE") == "PAY" and name.startswith("STARLINK")


# The names datasets.toml may use.
CONVERTERS: dict[str, Converter] = {
    **{
        name: getattr(convert, name)
        for name in (
            "text", "stripped", "integer", "number", "boolean", "timestamp", "day", "json_list", "json_objects", "count"
        )
    },
    "date_precision": one_of(DATE_PRECISIONS),
    "ops_status": ops_status,
}  # fmt: skip
SELECTIONS: dict[str, Callable[[dict[str, Any]], bool]] = {"starlink_payloads": is_starlink_payload}


# --- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # PostgreSQL type of raw.<dataset>.<name>
    path: str  # where the value is in a source record
    convert: Converter
    required: bool = False  # a record without a value is rejected


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str  # lake folder and log name: spacex | celestrak
    columns: tuple[Column, ...]
    keys: tuple[str, ...]  # columns that each identify a record: a repeat is rejected
    # Objects a record must carry, with why: their absence is one clear reason, not one per column.
    required_objects: Mapping[str, str] = field(default_factory=dict)
    # Records outside the question (e.g. debris in a name search) are counted, not curated.
    select: Callable[[dict[str, Any]], bool] | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        problems = [f"column {n!r} twice" for n in sorted({n for n in names if names.count(n) > 1})]
        for c in self.columns:
            if not _IDENTIFIER.match(c.name):
                problems.append(f"column {c.name!r} is not a lowercase SQL identifier")
            if c.type not in PG_TYPES:
                problems.append(f"column {c.name!r} has unknown type {c.type!r}")
            elif c.type not in getattr(c.convert, "pg_types", ()):
                problems.append(f"column {c.name!r}: its converter cannot fill type {c.type}")
            if not _PATH.match(c.path):
                problems.append(f"column {c.name!r} has a malformed path {c.path!r}")
        problems += [f"key {k!r} is not a column" for k in self.keys if k not in names]
        problems += [
            f"required object {o!r} holds no column"
            for o in self.required_objects
            if not any(c.path.startswith(o + ".") for c in self.columns)
        ]
        if problems:
            raise ValueError(f"dataset {self.name!r}: " + "; ".join(problems))

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column_type(self, name: str) -> str:
        return next((c.type for c in self.columns if c.name == name), "text")

    def flatten(self, record: dict[str, Any]) -> Row:
        """One typed row from one source record, or ``Reject`` with the first problem found."""
        for path, why in self.required_objects.items():
            value = lookup(record, path)
            if value is not None and not isinstance(value, dict):
                raise Reject(f"{path}: expected an object, got {type(value).__name__}")
            if not value:
                raise Reject(f"{path}: missing ({why})")
        row = {}
        for c in self.columns:
            value = lookup(record, c.path)
            label = _label(c.path)
            if c.required and (value is None or value == ""):
                raise Reject(f"{label}: missing")
            row[c.name] = c.convert(value, label)
            if isinstance(row[c.name], str) and (problem := unstorable(value)):
                raise Reject(f"{label}: {problem}")
        return row


def unstorable(value: Any) -> str | None:
    """Why PostgreSQL cannot store a text (or JSON) value exactly, or None. Its text and jsonb hold
    any Unicode except NUL (U+0000); a lone surrogate (JSON allows ``\\ud800``) is not Unicode at all.
    Such a record is rejected with this reason rather than altered: nothing is stored other than it came."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character (U+0000), which PostgreSQL text cannot store"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"is not valid Unicode (lone surrogate U+{ord(value[exc.start]):04X} at {exc.start})"
        return None
    if isinstance(value, dict):
        return next((p for k, v in value.items() if (p := unstorable(k) or unstorable(v))), None)
    if isinstance(value, list):
        return next((p for v in value if (p := unstorable(v))), None)
    return None


def lookup(record: Any, path: str) -> Any:
    """The value at a dotted path; None where the path leads nowhere (the column's converter, or
    another column of the same object, reports a malformed object)."""
    for part in path.split("."):
        if isinstance(record, dict):
            record = record.get(part)
        elif isinstance(record, list) and part.isdigit():
            record = record[int(part)] if int(part) < len(record) else None
        else:
            return None
    return record


def _label(path: str) -> str:
    """A path as reasons name it: ``cores[0].core``."""
    return re.sub(r"\.([0-9]+)", r"[\1]", path)


# --- reading datasets.toml -----------------------------------------------------------------------

_COLUMN_KEYS = {"name", "type", "path", "convert", "required"}
_DATASET_KEYS = {"source", "keys", "columns"}
_OPTIONAL_KEYS = {"select", "required_objects"}


def _exactly(where: str, found: Mapping[str, Any], required: set[str], optional: frozenset | set = frozenset()) -> None:
    missing, extra = required - set(found), set(found) - required - set(optional)
    if missing or extra:
        said = [
            f"missing {', '.join(sorted(missing))}" if missing else "",
            f"extra {', '.join(sorted(extra))}" if extra else "",
        ]
        raise ValueError(f"{SPEC.name}: {where}: {'; '.join(s for s in said if s)}")


def _named(where: str, table: Mapping[str, Any], name: str) -> Any:
    if name not in table:
        raise ValueError(f"{SPEC.name}: {where}: unknown {name!r}; known: {', '.join(sorted(table))}")
    return table[name]


def load(text: str) -> dict[str, Dataset]:
    """The datasets a datasets.toml text declares, in its order."""
    found = {}
    for name, spec in tomllib.loads(text).items():
        _exactly(f"[{name}]", spec, _DATASET_KEYS, _OPTIONAL_KEYS)
        columns = []
        for i, col in enumerate(spec["columns"]):
            where = f"[{name}] column {i + 1} ({col.get('name', '?')})"
            _exactly(where, col, _COLUMN_KEYS)
            converter = _named(where, CONVERTERS, col["convert"])
            columns.append(Column(col["name"], col["type"], col["path"], converter, bool(col["required"])))
        found[name] = Dataset(
            name=name,
            source=spec["source"],
            columns=tuple(columns),
            keys=tuple(spec["keys"]),
            required_objects=dict(spec.get("required_objects", {})),
            select=_named(f"[{name}]", SELECTIONS, spec["select"]) if "select" in spec else None,
        )
    return found


# The one list of datasets, in the order a run ingests them.
DATASETS: dict[str, Dataset] = load(SPEC.read_text())
NAMES: tuple[str, ...] = tuple(DATASETS)


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
