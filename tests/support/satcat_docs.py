"""Builders of CelesTrak SATCAT records with every field of the format
(https://celestrak.org/satcat/satcat-format.php), as the JSON query answers them."""

from __future__ import annotations

from typing import Any


def record(
    norad: int,
    cospar: str,
    launch_date: str | None,
    *,
    decay_date: str | None = None,
    status: str | None = None,
    name: str | None = None,
    object_type: str = "PAY",
    **overrides: Any,
) -> dict[str, Any]:
    decayed = decay_date is not None
    doc = {
        "OBJECT_NAME": name or f"STARLINK-{norad - 44000}",
        "OBJECT_ID": cospar,
        "NORAD_CAT_ID": norad,
        "OBJECT_TYPE": object_type,
        "OPS_STATUS_CODE": status or ("D" if decayed else "+"),
        "OWNER": "US",
        "LAUNCH_DATE": launch_date,
        "LAUNCH_SITE": "AFETR",
        "DECAY_DATE": decay_date,
        "PERIOD": 95.59,
        "INCLINATION": 53.05,
        "APOGEE": 550,
        "PERIGEE": 546,
        "RCS": None,
        "DATA_STATUS_CODE": None,
        "ORBIT_CENTER": "EA",
        "ORBIT_TYPE": "IMP" if decayed else "ORB",
    }
    doc.update(overrides)
    return doc
