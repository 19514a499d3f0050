"""A synthetic catalogue at any multiple of today's size, for the scale benchmark and its test.

Today's size is the bundled sample data's (src/starlink42k/sample_data): 205 SpaceX launches, 3,655
SpaceX starlink documents, 12,037 SATCAT records. ``catalogue(scale)`` keeps that shape while it grows:

- Starlink launches of 20-60 satellites: in the SpaceX API until it froze (2022-10-28), then in the
  SATCAT only (their launches known from COSPAR designators alone); other SpaceX launches with no
  satellites in between, and some still ``upcoming``.
- COSPAR designators ``YYYY-NNNP`` numbered per year (other countries' launches take numbers too),
  piece letters without I and O; NORAD numbers rising with the launch date.
- About 30% of the satellites decayed (more of the older ones); the SpaceX API only knows decays
  before it froze.
- Nulls where the sources have them: ``launch: null`` for a whole launch now and then (its API
  launch then carries no satellite: the same-day rule) and for single satellites (their siblings
  link them), null decay dates, null orbit fields for the newest launch, null RCS and data status.
- A few non-Starlink objects the SATCAT name search also returns (debris): excluded by to-csv.

Deterministic for a given scale (a fixed seed).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

from support import satcat_docs as sc
from support import spacex_docs as docs

TODAY = {"launches": 205, "starlink": 3_655, "satcat": 12_037}
FIRST_STARLINK = datetime(2019, 5, 24, 2, 30, tzinfo=UTC)
API_FREEZE = datetime(2022, 10, 28, 23, 59, tzinfo=UTC)
SATCAT_DAY = datetime(2026, 11, 20, tzinfo=UTC)
PIECES = "ABCDEFGHJKLMNPQRSTUVWXYZ"


def piece(i: int) -> str:
    n = len(PIECES)
    return PIECES[i] if i < n else PIECES[i // n - 1] + PIECES[i % n]


def _batches(rng: random.Random, satellites: int) -> list[int]:
    """Launch sizes of 20-60 that add up to ``satellites``."""
    sizes: list[int] = []
    while satellites > 0:
        size = min(rng.randint(20, 60), satellites)
        sizes.append(size)
        satellites -= size
    return sizes


def catalogue(scale: float, seed: int = 42_000) -> dict[str, Any]:
    """``{"spacex": {"launches": [...], "starlink": [...]}, "satcat": [...]}`` at ``scale`` times
    today's size (record counts within a launch's size of the target)."""
    rng = random.Random(f"{seed}:{scale}")
    api_sizes = _batches(rng, round(TODAY["starlink"] * scale))
    satcat_only = round(TODAY["satcat"] * scale) - sum(api_sizes)
    debris = max(1, satcat_only // 200)
    post_sizes = _batches(rng, satcat_only - debris)
    other = max(2, round(TODAY["launches"] * scale) - len(api_sizes))
    upcoming = max(1, other // 13)

    # when each launch flies, spread evenly over its era with jitter
    def spread(n: int, start: datetime, end: datetime) -> list[datetime]:
        span = (end - start).total_seconds()
        return sorted(start + timedelta(seconds=span * (i + rng.random()) / n) for i in range(n))

    api_times = spread(len(api_sizes), FIRST_STARLINK, API_FREEZE)
    post_times = spread(len(post_sizes), API_FREEZE + timedelta(days=1), SATCAT_DAY - timedelta(days=2))
    other_times = spread(other - upcoming, datetime(2006, 3, 24, tzinfo=UTC), API_FREEZE)
    upcoming_times = spread(upcoming, datetime(2022, 11, 15, tzinfo=UTC), datetime(2023, 6, 30, tzinfo=UTC))

    flights = sorted(
        [("starlink", t, n) for t, n in zip(api_times, api_sizes, strict=True)]
        + [("other", t, 0) for t in other_times]
        + [("upcoming", t, 0) for t in upcoming_times],
        key=lambda f: f[1],
    )
    launches: list[dict[str, Any]] = []
    starlink: list[dict[str, Any]] = []
    satcat: list[dict[str, Any]] = []
    numbers: dict[int, int] = {}
    norad = 44_000

    def cospar(when: datetime) -> str:
        numbers[when.year] = numbers.get(when.year, 0) + 1 + (rng.random() < 0.2)
        assert numbers[when.year] < 1000, f"scale {scale}: more than 999 launches in {when.year}"
        return f"{when.year}-{numbers[when.year]:03d}"

    def decay_of(when: datetime, known_until: datetime) -> date | None:
        age = (SATCAT_DAY - when).days
        if rng.random() >= 0.12 + 0.4 * age / 2700:  # older satellites have decayed more often
            return None
        decayed = when + timedelta(days=rng.randint(30, max(31, age)))
        return decayed.date() if decayed <= known_until else None

    def satellites(when: datetime, count: int, launch_id: str | None, in_api: bool, last: bool) -> str:
        nonlocal norad
        designator = cospar(when)
        whole_launch_unlinked = in_api and rng.random() < 0.03
        for k in range(count):
            norad += 1
            object_id = f"{designator}{piece(k)}"
            decay = decay_of(when, SATCAT_DAY)
            orbit = {} if not last else {"PERIOD": None, "INCLINATION": None, "APOGEE": None, "PERIGEE": None}
            satcat.append(
                sc.record(
                    norad,
                    object_id,
                    when.date().isoformat(),
                    decay_date=decay.isoformat() if decay else None,
                    DATA_STATUS_CODE="NIE" if last else None,
                    **orbit,
                )
            )
            if in_api:
                link = None if whole_launch_unlinked or rng.random() < 0.01 else launch_id
                known = decay if decay and decay <= API_FREEZE.date() else None
                starlink.append(
                    docs.starlink(
                        norad, object_id, when.date(), launch_id=link, decay_date=known, iso_dates=rng.random() < 0.5
                    )
                )
        return designator

    for flight, (kind, when, count) in enumerate(flights, start=1):
        name = {"starlink": f"Starlink {flight}", "other": f"Mission {flight}", "upcoming": f"Starlink {flight}"}
        doc = docs.launch(
            flight,
            name[kind],
            when,
            upcoming=kind == "upcoming",
            success=None if kind == "upcoming" else rng.random() > 0.01,
            precision="month" if kind == "upcoming" else "hour",
            details=None if rng.random() < 0.7 else f"Flight {flight}",
        )
        launches.append(doc)
        if kind == "starlink":
            satellites(when, count, doc["id"], in_api=True, last=False)
        elif kind == "other":
            cospar(when)
    post = [
        (when, satellites(when, count, None, in_api=False, last=i == len(post_sizes) - 1), count)
        for i, (when, count) in enumerate(zip(post_times, post_sizes, strict=True))
    ]
    for i in range(debris):  # a piece of a launch's debris, after its satellites' pieces
        when, designator, count = post[i * len(post) // debris]
        norad += 1
        satcat.append(
            sc.record(norad, f"{designator}{piece(count + i % 10)}", when.date().isoformat(), object_type="DEB",
                      name=f"STARLINK-{norad - 44000} DEB")
        )  # fmt: skip
    return {"spacex": {"launches": launches, "starlink": starlink}, "satcat": satcat}


def describe(data: dict[str, Any]) -> dict[str, int]:
    """Record counts and shares, for the benchmark's header."""
    sats = data["spacex"]["starlink"]
    cat = data["satcat"]
    return {
        "launches": len(data["spacex"]["launches"]),
        "starlink": len(sats),
        "starlink_link_null": sum(d["launch"] is None for d in sats),
        "satcat": len(cat),
        "satcat_decayed": sum(r["DECAY_DATE"] is not None for r in cat),
        "satcat_launches": len({r["OBJECT_ID"][:8] for r in cat}),
    }
