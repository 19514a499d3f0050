"""Builders of SpaceX API v4 documents with every field the real API returns.

Tests describe only what matters to them (a date, a decay, a missing launch link); the rest of
each document is filled in with the real API's shape, so that the pipeline sees what it will see
in production.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from typing import Any


def object_id(*parts: object) -> str:
    """A deterministic 24-hex MongoDB ObjectId for a name."""
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()[:24]


FALCON9 = object_id("rocket", "falcon9")
SLC40 = object_id("launchpad", "slc40")


def launch(
    flight_number: int,
    name: str,
    when: datetime | str,
    *,
    upcoming: bool = False,
    success: bool | None = True,
    payloads: int = 1,
    precision: str = "hour",
    **overrides: Any,
) -> dict[str, Any]:
    when = datetime.fromisoformat(when) if isinstance(when, str) else when
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    lid = object_id("launch", flight_number)
    doc = {
        "fairings": {"reused": False, "recovery_attempt": True, "recovered": True, "ships": []},
        "links": {
            "patch": {"small": "https://images2.imgbox.com/x/small.png", "large": None},
            "reddit": {"campaign": None, "launch": None, "media": None, "recovery": None},
            "flickr": {"small": [], "original": []},
            "presskit": None,
            "webcast": "https://youtu.be/x",
            "youtube_id": "x",
            "article": None,
            "wikipedia": "https://en.wikipedia.org/wiki/Starlink",
        },
        "static_fire_date_utc": None,
        "static_fire_date_unix": None,
        "net": False,
        "window": 0,
        "rocket": FALCON9,
        "success": None if upcoming else success,
        "failures": [] if success in (True, None) else [{"time": 139, "altitude": 40, "reason": "engine"}],
        "details": None,
        "crew": [],
        "ships": [],
        "capsules": [],
        "payloads": [object_id("payload", flight_number, i) for i in range(payloads)],
        "launchpad": SLC40,
        "flight_number": flight_number,
        "name": name,
        "date_utc": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "date_unix": int(when.timestamp()),
        "date_local": (when - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M:%S-04:00"),
        "date_precision": precision,
        "upcoming": upcoming,
        "cores": [
            {
                "core": object_id("core", flight_number),
                "flight": 3,
                "gridfins": True,
                "legs": True,
                "reused": True,
                "landing_attempt": True,
                "landing_success": None if upcoming else True,
                "landing_type": "ASDS",
                "landpad": object_id("landpad", "ocisly"),
            }
        ],
        "auto_update": True,
        "tbd": False,
        "launch_library_id": None,
        "id": lid,
    }
    doc.update(overrides)
    return doc


def starlink(
    norad: int,
    cospar: str,
    launch_date: date | str,
    *,
    launch_id: str | None,
    decay_date: date | str | None = None,
    version: str = "v1.0",
    epoch: str = "2022-10-20 12:00:00.000000",
    iso_dates: bool = False,
    **overrides: Any,
) -> dict[str, Any]:
    """One satellite. ``iso_dates`` writes EPOCH/CREATION_DATE with a ``T`` as newer records do."""
    launch_date = date.fromisoformat(launch_date) if isinstance(launch_date, str) else launch_date
    decay = date.fromisoformat(decay_date) if isinstance(decay_date, str) else decay_date
    creation = "2022-10-21 04:16:08"
    if iso_dates:
        epoch, creation = epoch.replace(" ", "T"), creation.replace(" ", "T")
    in_orbit = decay is None
    doc = {
        "spaceTrack": {
            "CCSDS_OMM_VERS": "2.0",
            "COMMENT": "GENERATED VIA SPACE-TRACK.ORG API",
            "CREATION_DATE": creation,
            "ORIGINATOR": "18 SPCS",
            "OBJECT_NAME": f"STARLINK-{norad - 44000}",
            "OBJECT_ID": cospar,
            "CENTER_NAME": "EARTH",
            "REF_FRAME": "TEME",
            "TIME_SYSTEM": "UTC",
            "MEAN_ELEMENT_THEORY": "SGP4",
            "EPOCH": epoch,
            "MEAN_MOTION": 15.06394815,
            "ECCENTRICITY": 0.0001406,
            "INCLINATION": 53.0536,
            "RA_OF_ASC_NODE": 203.2918,
            "ARG_OF_PERICENTER": 85.1623,
            "MEAN_ANOMALY": 274.9535,
            "EPHEMERIS_TYPE": 0,
            "CLASSIFICATION_TYPE": "U",
            "NORAD_CAT_ID": norad,
            "ELEMENT_SET_NO": 999,
            "REV_AT_EPOCH": 15012,
            "BSTAR": 0.00020218,
            "MEAN_MOTION_DOT": 1.444e-05,
            "MEAN_MOTION_DDOT": 0,
            "SEMIMAJOR_AXIS": 6925.968,
            "PERIOD": 95.593,
            "APOAPSIS": 548.807,
            "PERIAPSIS": 546.859,
            "OBJECT_TYPE": "PAYLOAD",
            "RCS_SIZE": "LARGE",
            "COUNTRY_CODE": "US",
            "LAUNCH_DATE": launch_date.isoformat(),
            "SITE": "AFETR",
            "DECAY_DATE": decay.isoformat() if decay else None,
            "DECAYED": 0 if in_orbit else 1,
            "FILE": 3606244,
            "GP_ID": 215880000 + norad,
            "TLE_LINE0": f"0 STARLINK-{norad - 44000}",
            "TLE_LINE1": f"1 {norad}U {cospar[2:4]}{cospar[5:]:<6}  22293.50000000  .00001444  00000-0  "
            "20218-3 0  9990",
            "TLE_LINE2": f"2 {norad}  53.0536 203.2918 0001406  85.1623 274.9535 15.06394815150129",
        },
        "version": version,
        "launch": launch_id,
        "longitude": -12.5 if in_orbit else None,
        "latitude": 41.2 if in_orbit else None,
        "height_km": 547.8 if in_orbit else None,
        "velocity_kms": 7.59 if in_orbit else None,
        "id": object_id("starlink", norad),
    }
    doc.update(overrides)
    return doc


def constellation(starlink_launches: int, other_launches: int, satellites: int) -> dict[str, list[dict]]:
    """A deterministic history: Starlink launches every ~6 weeks from 2019-05-24, other launches
    between them, satellites spread over the Starlink launches; every 10th satellite decayed,
    every 31st without a launch link, every other one with ISO-format dates."""
    launches: list[dict[str, Any]] = []
    start = datetime(2019, 5, 24, 2, 30, tzinfo=UTC)
    flight = 0
    starlink_flights: list[dict[str, Any]] = []
    for i in range(max(starlink_launches, other_launches)):
        when = start + timedelta(days=45 * i)
        if i < other_launches:
            flight += 1
            launches.append(launch(flight, f"CRS-{i + 1}", when - timedelta(days=20)))
        if i < starlink_launches:
            flight += 1
            doc = launch(flight, f"Starlink-{i + 1} (v1.0)", when, payloads=1)
            launches.append(doc)
            starlink_flights.append(doc)
    flight += 1
    launches.append(launch(flight, "Starlink 9-9 (v1.5)", "2023-01-15T00:00:00", upcoming=True, precision="month"))
    sats: list[dict[str, Any]] = []
    for n in range(satellites):
        parent = starlink_flights[n % len(starlink_flights)]
        index = n % len(starlink_flights)
        when = datetime.fromisoformat(parent["date_utc"].replace("Z", "+00:00"))
        piece = n // len(starlink_flights)
        letters = chr(65 + piece % 26) if piece < 26 else chr(64 + piece // 26) + chr(65 + piece % 26)
        cospar = f"{when.year}-{index + 1:03d}{letters}"
        sats.append(
            starlink(
                44000 + n,
                cospar,
                when.date(),
                launch_id=None if n % 31 == 30 else parent["id"],
                decay_date=(when + timedelta(days=100)).date() if n % 10 == 9 else None,
                iso_dates=n % 2 == 1,
            )
        )
    return {"launches": launches, "starlink": sats}
