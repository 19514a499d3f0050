"""The datasets: where each comes from, its typed CSV columns, and how a document becomes a row.

A column list is the contract between ``to-csv`` (which writes it), ``load`` (which creates the
warehouse table from it) and dbt's sources. Columns are chosen for the question; the raw JSON in
the lake keeps everything else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import values as v
from .values import Reject

Row = dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str  # lake folder and log name: spacex | celestrak
    columns: tuple[tuple[str, str], ...]  # (name, PostgreSQL type)
    flatten: Callable[[dict[str, Any]], Row]
    keys: tuple[str, ...]  # columns that each identify a record: a repeat is rejected
    # Records outside the question (e.g. debris in a name search) are counted, not curated.
    select: Callable[[dict[str, Any]], bool] | None = None

    @property
    def column_names(self) -> list[str]:
        return [name for name, _ in self.columns]

    def column_type(self, name: str) -> str:
        return dict(self.columns).get(name, "text")


def _require(value: Any, field: str) -> Any:
    if value is None or value == "":
        raise Reject(f"{field}: missing")
    return value


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Reject(f"{field}: expected an object, got {type(value).__name__}")
    return value


# --- SpaceX launches -----------------------------------------------------------------------------

DATE_PRECISIONS = ("half", "quarter", "year", "month", "day", "hour")

LAUNCH_COLUMNS = (
    ("id", "text"),
    ("flight_number", "integer"),
    ("name", "text"),
    ("date_utc", "timestamptz"),
    ("date_unix", "bigint"),
    ("date_local", "text"),
    ("date_precision", "text"),
    ("success", "boolean"),
    ("upcoming", "boolean"),
    ("tbd", "boolean"),
    ("net", "boolean"),
    ("rocket_id", "text"),
    ("launchpad_id", "text"),
    ("payload_ids", "jsonb"),
    ("payload_count", "integer"),
    ("crew_count", "integer"),
    ("core_count", "integer"),
    ("core_id", "text"),
    ("core_flight", "integer"),
    ("core_reused", "boolean"),
    ("core_landing_attempt", "boolean"),
    ("core_landing_success", "boolean"),
    ("core_landing_type", "text"),
    ("cores", "jsonb"),
    ("failures", "jsonb"),
    ("static_fire_date_utc", "timestamptz"),
    ("window_s", "integer"),
    ("auto_update", "boolean"),
    ("launch_library_id", "text"),
    ("details", "text"),
)


def flatten_launch(doc: dict[str, Any]) -> Row:
    precision = v.text(doc.get("date_precision"), "date_precision")
    if precision is not None and precision not in DATE_PRECISIONS:
        raise Reject(f"date_precision: {precision!r} is not one of {', '.join(DATE_PRECISIONS)}")
    payloads = doc.get("payloads") or []
    cores = doc.get("cores") or []
    if not isinstance(cores, list) or not all(isinstance(c, dict) for c in cores):
        raise Reject("cores: expected a list of objects")
    first = cores[0] if cores else {}
    return {
        "id": v.text(_require(doc.get("id"), "id"), "id"),
        "flight_number": v.integer(doc.get("flight_number"), "flight_number"),
        "name": v.text(doc.get("name"), "name"),
        "date_utc": v.timestamp(_require(doc.get("date_utc"), "date_utc"), "date_utc"),
        "date_unix": v.integer(doc.get("date_unix"), "date_unix"),
        "date_local": v.text(doc.get("date_local"), "date_local"),
        "date_precision": precision,
        "success": v.boolean(doc.get("success"), "success"),
        "upcoming": v.boolean(_require(doc.get("upcoming"), "upcoming"), "upcoming"),
        "tbd": v.boolean(doc.get("tbd"), "tbd"),
        "net": v.boolean(doc.get("net"), "net"),
        "rocket_id": v.text(doc.get("rocket"), "rocket"),
        "launchpad_id": v.text(doc.get("launchpad"), "launchpad"),
        "payload_ids": v.json_text(payloads, "payloads"),
        "payload_count": len(payloads),
        "crew_count": len(doc.get("crew") or []),
        "core_count": len(cores),
        "core_id": v.text(first.get("core"), "cores[0].core"),
        "core_flight": v.integer(first.get("flight"), "cores[0].flight"),
        "core_reused": v.boolean(first.get("reused"), "cores[0].reused"),
        "core_landing_attempt": v.boolean(first.get("landing_attempt"), "cores[0].landing_attempt"),
        "core_landing_success": v.boolean(first.get("landing_success"), "cores[0].landing_success"),
        "core_landing_type": v.text(first.get("landing_type"), "cores[0].landing_type"),
        "cores": v.json_text(cores, "cores"),
        "failures": v.json_text(doc.get("failures") or [], "failures"),
        "static_fire_date_utc": v.timestamp(doc.get("static_fire_date_utc"), "static_fire_date_utc"),
        "window_s": v.integer(doc.get("window"), "window"),
        "auto_update": v.boolean(doc.get("auto_update"), "auto_update"),
        "launch_library_id": v.text(doc.get("launch_library_id"), "launch_library_id"),
        "details": v.text(doc.get("details"), "details"),
    }


# --- SpaceX starlink -----------------------------------------------------------------------------

STARLINK_COLUMNS = (
    ("id", "text"),
    ("launch_id", "text"),
    ("version", "text"),
    ("norad_id", "integer"),
    ("object_name", "text"),
    ("object_id", "text"),
    ("object_type", "text"),
    ("launch_date", "date"),
    ("decay_date", "date"),
    ("decayed", "boolean"),
    ("epoch", "timestamptz"),
    ("creation_date", "timestamptz"),
    ("height_km", "double precision"),
    ("latitude", "double precision"),
    ("longitude", "double precision"),
    ("velocity_kms", "double precision"),
    ("inclination_deg", "double precision"),
    ("period_min", "double precision"),
    ("apoapsis_km", "double precision"),
    ("periapsis_km", "double precision"),
)


def flatten_starlink(doc: dict[str, Any]) -> Row:
    track = _object(doc.get("spaceTrack"), "spaceTrack")
    if not track:
        raise Reject("spaceTrack: missing (no catalogue data to place the satellite)")
    return {
        "id": v.text(_require(doc.get("id"), "id"), "id"),
        "launch_id": v.text(doc.get("launch"), "launch"),
        "version": v.text(doc.get("version"), "version"),
        # the key that reconciles the sources: a satellite without one cannot be matched or counted once
        "norad_id": v.integer(
            _require(track.get("NORAD_CAT_ID"), "spaceTrack.NORAD_CAT_ID"), "spaceTrack.NORAD_CAT_ID"
        ),
        "object_name": v.text(track.get("OBJECT_NAME"), "spaceTrack.OBJECT_NAME"),
        "object_id": v.text(track.get("OBJECT_ID"), "spaceTrack.OBJECT_ID"),
        "object_type": v.text(track.get("OBJECT_TYPE"), "spaceTrack.OBJECT_TYPE"),
        # without a launch date a satellite cannot be placed in the history or counted in orbit
        "launch_date": v.day(_require(track.get("LAUNCH_DATE"), "spaceTrack.LAUNCH_DATE"), "spaceTrack.LAUNCH_DATE"),
        "decay_date": v.day(track.get("DECAY_DATE"), "spaceTrack.DECAY_DATE"),
        "decayed": v.boolean(track.get("DECAYED"), "spaceTrack.DECAYED"),
        "epoch": v.timestamp(track.get("EPOCH"), "spaceTrack.EPOCH"),
        "creation_date": v.timestamp(track.get("CREATION_DATE"), "spaceTrack.CREATION_DATE"),
        "height_km": v.number(doc.get("height_km"), "height_km"),
        "latitude": v.number(doc.get("latitude"), "latitude"),
        "longitude": v.number(doc.get("longitude"), "longitude"),
        "velocity_kms": v.number(doc.get("velocity_kms"), "velocity_kms"),
        "inclination_deg": v.number(track.get("INCLINATION"), "spaceTrack.INCLINATION"),
        "period_min": v.number(track.get("PERIOD"), "spaceTrack.PERIOD"),
        "apoapsis_km": v.number(track.get("APOAPSIS"), "spaceTrack.APOAPSIS"),
        "periapsis_km": v.number(track.get("PERIAPSIS"), "spaceTrack.PERIAPSIS"),
    }


# --- CelesTrak SATCAT ----------------------------------------------------------------------------

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

SATCAT_COLUMNS = (
    ("norad_id", "integer"),
    ("object_name", "text"),
    ("object_id", "text"),
    ("object_type", "text"),
    ("ops_status_code", "text"),
    ("ops_status", "text"),
    ("owner", "text"),
    ("launch_date", "date"),
    ("launch_site", "text"),
    ("decay_date", "date"),
    ("period_min", "double precision"),
    ("inclination_deg", "double precision"),
    ("apogee_km", "double precision"),
    ("perigee_km", "double precision"),
    ("rcs_m2", "double precision"),
    ("data_status_code", "text"),
    ("orbit_center", "text"),
    ("orbit_type", "text"),
)


def is_starlink_payload(record: dict[str, Any]) -> bool:
    name = str(record.get("OBJECT_NAME") or "").upper()
    return record.get("OBJECT_TYPE") == "PAY" and name.startswith("STARLINK")


def flatten_satcat(record: dict[str, Any]) -> Row:
    code = v.text(record.get("OPS_STATUS_CODE"), "OPS_STATUS_CODE")
    code = code.strip() if code else code
    return {
        "norad_id": v.integer(_require(record.get("NORAD_CAT_ID"), "NORAD_CAT_ID"), "NORAD_CAT_ID"),
        "object_name": v.text(record.get("OBJECT_NAME"), "OBJECT_NAME"),
        "object_id": v.text(record.get("OBJECT_ID"), "OBJECT_ID"),
        "object_type": v.text(record.get("OBJECT_TYPE"), "OBJECT_TYPE"),
        "ops_status_code": code,
        # a code the format page does not list is kept, and said to be unrecognised
        "ops_status": OPS_STATUS.get(code or "?", "unrecognised"),
        "owner": v.text(record.get("OWNER"), "OWNER"),
        "launch_date": v.day(_require(record.get("LAUNCH_DATE"), "LAUNCH_DATE"), "LAUNCH_DATE"),
        "launch_site": v.text(record.get("LAUNCH_SITE"), "LAUNCH_SITE"),
        "decay_date": v.day(record.get("DECAY_DATE"), "DECAY_DATE"),
        "period_min": v.number(record.get("PERIOD"), "PERIOD"),
        "inclination_deg": v.number(record.get("INCLINATION"), "INCLINATION"),
        "apogee_km": v.number(record.get("APOGEE"), "APOGEE"),
        "perigee_km": v.number(record.get("PERIGEE"), "PERIGEE"),
        "rcs_m2": v.number(record.get("RCS"), "RCS"),
        "data_status_code": v.text(record.get("DATA_STATUS_CODE"), "DATA_STATUS_CODE"),
        "orbit_center": v.text(record.get("ORBIT_CENTER"), "ORBIT_CENTER"),
        "orbit_type": v.text(record.get("ORBIT_TYPE"), "ORBIT_TYPE"),
    }


DATASETS: dict[str, Dataset] = {
    "launches": Dataset("launches", "spacex", LAUNCH_COLUMNS, flatten_launch, ("id",)),
    "starlink": Dataset("starlink", "spacex", STARLINK_COLUMNS, flatten_starlink, ("id", "norad_id")),
    "satcat": Dataset("satcat", "celestrak", SATCAT_COLUMNS, flatten_satcat, ("norad_id",), is_starlink_payload),
}


def get(name: str) -> Dataset:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}") from None
