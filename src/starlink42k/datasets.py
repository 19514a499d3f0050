"""The datasets: where each comes from, and its typed columns, one table per dataset.

A row of a column table says everything about one column: its name, its PostgreSQL type, where
the value sits in a source record (a dotted path, list items by index: ``cores.0.core``), the
converter that types it (convert.py) and whether a record without it is rejected. The table is
the contract between ``to-csv`` (which writes the CSV), ``load`` (which creates
``raw.<dataset>`` from it) and dbt's sources; a table that does not hold together (an unknown
type, a converter that cannot fill its type, a key that is not a column) fails at import.

Columns are chosen for the question; the raw JSON in the lake keeps everything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .convert import (
    Converter,
    Reject,
    boolean,
    count,
    day,
    fills,
    integer,
    json_list,
    json_objects,
    number,
    one_of,
    stripped,
    text,
    timestamp,
)

Row = dict[str, Any]
PG_TYPES = frozenset({"text", "integer", "bigint", "double precision", "boolean", "date", "timestamptz", "jsonb"})
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|[0-9]+))*$")


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
                problems.append(f"column {c.name!r}: converter {c.convert.__name__} cannot fill type {c.type}")
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
        return row


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


def table(*rows: tuple[Any, ...]) -> tuple[Column, ...]:
    return tuple(Column(*row) for row in rows)


# --- SpaceX API v4 /launches -----------------------------------------------------------------------

DATE_PRECISIONS = ("half", "quarter", "year", "month", "day", "hour")

# fmt: off
LAUNCH_COLUMNS = table(
    # name                    type           path                          convert                     required
    ("id",                    "text",        "id",                         text,                       True),
    ("flight_number",         "integer",     "flight_number",              integer),
    ("name",                  "text",        "name",                       text),
    ("date_utc",              "timestamptz", "date_utc",                   timestamp,                  True),
    ("date_unix",             "bigint",      "date_unix",                  integer),
    ("date_local",            "text",        "date_local",                 text),
    ("date_precision",        "text",        "date_precision",             one_of(DATE_PRECISIONS)),
    ("success",               "boolean",     "success",                    boolean),
    ("upcoming",              "boolean",     "upcoming",                   boolean,                    True),
    ("tbd",                   "boolean",     "tbd",                        boolean),
    ("net",                   "boolean",     "net",                        boolean),
    ("rocket_id",             "text",        "rocket",                     text),
    ("launchpad_id",          "text",        "launchpad",                  text),
    ("payload_ids",           "jsonb",       "payloads",                   json_list),
    ("payload_count",         "integer",     "payloads",                   count),
    ("crew_count",            "integer",     "crew",                       count),
    ("core_count",            "integer",     "cores",                      count),
    ("core_id",               "text",        "cores.0.core",               text),
    ("core_flight",           "integer",     "cores.0.flight",             integer),
    ("core_reused",           "boolean",     "cores.0.reused",             boolean),
    ("core_landing_attempt",  "boolean",     "cores.0.landing_attempt",    boolean),
    ("core_landing_success",  "boolean",     "cores.0.landing_success",    boolean),
    ("core_landing_type",     "text",        "cores.0.landing_type",       text),
    ("cores",                 "jsonb",       "cores",                      json_objects),
    ("failures",              "jsonb",       "failures",                   json_list),
    ("static_fire_date_utc",  "timestamptz", "static_fire_date_utc",       timestamp),
    ("window_s",              "integer",     "window",                     integer),
    ("auto_update",           "boolean",     "auto_update",                boolean),
    ("launch_library_id",     "text",        "launch_library_id",          text),
    ("details",               "text",        "details",                    text),
)
# fmt: on

LAUNCHES = Dataset(
    name="launches",
    source="spacex",
    keys=("id",),
    columns=LAUNCH_COLUMNS,
)

# --- SpaceX API v4 /starlink -----------------------------------------------------------------------

# Required: the NORAD number, the key that reconciles the sources (without it a satellite cannot be
# matched or counted once), and the launch date (without it, it cannot be placed in the history).
# fmt: off
STARLINK_COLUMNS = table(
    # name               type                path                        convert     required
    ("id",               "text",             "id",                       text,       True),
    ("launch_id",        "text",             "launch",                   text),
    ("version",          "text",             "version",                  text),
    ("norad_id",         "integer",          "spaceTrack.NORAD_CAT_ID",  integer,    True),
    ("object_name",      "text",             "spaceTrack.OBJECT_NAME",   text),
    ("object_id",        "text",             "spaceTrack.OBJECT_ID",     text),
    ("object_type",      "text",             "spaceTrack.OBJECT_TYPE",   text),
    ("launch_date",      "date",             "spaceTrack.LAUNCH_DATE",   day,        True),
    ("decay_date",       "date",             "spaceTrack.DECAY_DATE",    day),
    ("decayed",          "boolean",          "spaceTrack.DECAYED",       boolean),
    ("epoch",            "timestamptz",      "spaceTrack.EPOCH",         timestamp),
    ("creation_date",    "timestamptz",      "spaceTrack.CREATION_DATE", timestamp),
    ("height_km",        "double precision", "height_km",                number),
    ("latitude",         "double precision", "latitude",                 number),
    ("longitude",        "double precision", "longitude",                number),
    ("velocity_kms",     "double precision", "velocity_kms",             number),
    ("inclination_deg",  "double precision", "spaceTrack.INCLINATION",   number),
    ("period_min",       "double precision", "spaceTrack.PERIOD",        number),
    ("apoapsis_km",      "double precision", "spaceTrack.APOAPSIS",      number),
    ("periapsis_km",     "double precision", "spaceTrack.PERIAPSIS",     number),
)
# fmt: on

STARLINK = Dataset(
    name="starlink",
    source="spacex",
    keys=("id", "norad_id"),
    required_objects={"spaceTrack": "no catalogue data to place the satellite"},
    columns=STARLINK_COLUMNS,
)

# --- CelesTrak SATCAT -------------------------------------------------------------------------------

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


# fmt: off
SATCAT_COLUMNS = table(
    # name               type                path                convert      required
    ("norad_id",         "integer",          "NORAD_CAT_ID",     integer,     True),
    ("object_name",      "text",             "OBJECT_NAME",      text),
    ("object_id",        "text",             "OBJECT_ID",        text),
    ("object_type",      "text",             "OBJECT_TYPE",      text),
    ("ops_status_code",  "text",             "OPS_STATUS_CODE",  stripped),
    ("ops_status",       "text",             "OPS_STATUS_CODE",  ops_status),
    ("owner",            "text",             "OWNER",            text),
    ("launch_date",      "date",             "LAUNCH_DATE",      day,         True),
    ("launch_site",      "text",             "LAUNCH_SITE",      text),
    ("decay_date",       "date",             "DECAY_DATE",       day),
    ("period_min",       "double precision", "PERIOD",           number),
    ("inclination_deg",  "double precision", "INCLINATION",      number),
    ("apogee_km",        "double precision", "APOGEE",           number),
    ("perigee_km",       "double precision", "PERIGEE",          number),
    ("rcs_m2",           "double precision", "RCS",              number),
    ("data_status_code", "text",             "DATA_STATUS_CODE", text),
    ("orbit_center",     "text",             "ORBIT_CENTER",     text),
    ("orbit_type",       "text",             "ORBIT_TYPE",       text),
)
# fmt: on

SATCAT = Dataset(
    name="satcat",
    source="celestrak",
    keys=("norad_id",),
    select=is_starlink_payload,
    columns=SATCAT_COLUMNS,
)

# The one list of datasets, in the order a run ingests them.
DATASETS: dict[str, Dataset] = {d.name: d for d in (LAUNCHES, STARLINK, SATCAT)}
NAMES: tuple[str, ...] = tuple(DATASETS)


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
