"""The answer computed independently of the pipeline, straight from the API documents.

It follows the written definitions, not the SQL: a launch is identified by the COSPAR launch
designator (year and launch number) its satellites carry; in orbit = launched on or before the
as-of date and not decayed by then; the as-of date is the run's ds, or the newest date in the
satellite records when that is older; a satellite flagged decayed without a date counts as decayed
from that newest date.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _day(text: str | None) -> date | None:
    return datetime.fromisoformat(text).date() if text else None


def independent_answer(
    launches: list[dict], satellites: list[dict], trailing_months: int = 12, ds: date | None = None
) -> dict:
    sats = []
    for doc in satellites:
        track = doc["spaceTrack"]
        decay = _day(track["DECAY_DATE"])
        sats.append(
            {
                "launch_date": _day(track["LAUNCH_DATE"]),
                "decay": decay,
                "decayed": bool(track["DECAYED"]) or decay is not None,
                "epoch": _day(track["EPOCH"]),
                "group": track["OBJECT_ID"][:8],
            }
        )
    newest = max(max(d for d in (s["launch_date"], s["decay"], s["epoch"]) if d) for s in sats)
    as_of = min(ds, newest) if ds else newest

    def in_orbit(s: dict, on: date) -> bool:
        gone = s["decayed"] and (s["decay"] or newest) <= on
        return s["launch_date"] <= on and not gone

    window_start = months_before(as_of, trailing_months)
    groups: dict[str, list[dict]] = {}
    for s in sats:
        groups.setdefault(s["group"], []).append(s)
    flown = [g for g in groups.values() if min(s["launch_date"] for s in g) <= as_of]
    in_window = [g for g in flown if window_start < min(s["launch_date"] for s in g)]
    # Starlink missions that flew in the window without any satellite in the data also count
    flown_empty = [
        d
        for d in launches
        if "starlink" in d["name"].lower()
        and not d["upcoming"]
        and window_start < _day(d["date_utc"][:10]) <= as_of
        and not any(min(s["launch_date"] for s in g) == _day(d["date_utc"][:10]) for g in groups.values())
    ]
    launches_in_window = len(in_window) + len(flown_empty)
    sats_in_window = sum(len(g) for g in in_window)
    decays_in_window = sum(1 for s in sats if s["decayed"] and window_start < (s["decay"] or newest) <= as_of)
    return {
        "as_of": as_of.isoformat(),
        "satellites_in_orbit": sum(in_orbit(s, as_of) for s in sats),
        "launches_in_window": launches_in_window,
        "launches_per_month": launches_in_window / trailing_months,
        "satellites_per_launch": sats_in_window / launches_in_window if launches_in_window else None,
        "decays_per_month": decays_in_window / trailing_months,
        "starlink_launches": len(flown)
        + sum(
            1
            for d in launches
            if "starlink" in d["name"].lower()
            and not d["upcoming"]
            and _day(d["date_utc"][:10]) <= as_of
            and not any(min(s["launch_date"] for s in g) == _day(d["date_utc"][:10]) for g in groups.values())
        ),
        "in_orbit_on": in_orbit,
    }
