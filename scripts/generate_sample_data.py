"""Generate the SYNTHETIC sample data that ``make demo`` replays instead of the real APIs.

Run ``python scripts/generate_sample_data.py`` to rewrite, in ``src/starlink42k/sample_data/`` (where
``make demo`` and ``starlink42k replay`` read them):

* ``spacex_launches.json.gz``  what ``GET /v4/launches`` of the SpaceX API returns: a JSON array of
  about 205 launch documents, flight 1 (FalconSat, 2006) to a handful still marked ``upcoming``,
  as the community API looked after it stopped being updated in late 2022.
* ``spacex_starlink.json.gz``  what ``GET /v4/starlink`` returns: one document per satellite put up
  by the Starlink launches in that file (v0.9 in May 2019 to the last one on 2022-10-28), each with
  its Space-Track OMM/TLE record (``spaceTrack``), version, launch id and position.
* ``celestrak_satcat.json.gz`` what CelesTrak's ``/satcat/records.php?NAME=STARLINK&FORMAT=JSON``
  returns on 2026-11-20: the same satellites (same NORAD number, COSPAR id, name, launch date and
  decay date) plus those of every Starlink launch after the SpaceX API froze.

None of it is real data: launches, dates, names, catalogue numbers, orbits, decays and ids are
drawn by this script from a fixed seed. What it models is the *shape* of the real sources (field
names, order, types, date formats and their quirks) and their *scale*:

* SpaceX API: ~190 past launches (three Falcon 1 failures, one Falcon 9 failure) and ~15 upcoming
  ones, some dated before the freeze; 69 launches carry Starlink satellites (v0.9: 60 in 2019,
  v1.0: 60 a launch in 2019-2021, v1.5: 46-54 a launch from late 2021, two rideshares). About 3%
  of the starlink documents have ``launch: null`` (the real API matches satellites to launches by
  date and sometimes misses). Space-Track dates come in both formats the API holds: ``YYYY-MM-DD
  HH:MM:SS[.ffffff]`` on records last refreshed before mid-2021, ISO ``YYYY-MM-DDTHH:MM:SS[.ffffff]``
  on newer ones. Decays: every v0.9 satellite by 2022, ~2.5% early failures a few months after
  launch, and the February 2022 geomagnetic storm (38 of the 49 satellites of 2022-02-03 lost).
* CelesTrak: Starlink cadence rising from ~5 launches a month in 2023 to ~9 in 2025-2026 with
  21-29 satellites each (v2 mini, a few direct-to-cell "[DTC]" satellites), retirements of the
  older generations rising to tens a month, ending with roughly 9,500 satellites in orbit.

Conventions followed: COSPAR ids are ``YYYY-NNNP`` with piece letters skipping I and O; NORAD
numbers rise with launch date; a satellite's LAUNCH_DATE is the UTC date of its launch.

Standard library only;
output is byte-for-byte reproducible (fixed seed, gzip mtime 0, fixed gzip header). Run with
``--check`` to regenerate in memory and compare with the files on disk.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import struct
import sys
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parents[1] / "src" / "starlink42k" / "sample_data"
SEED = 42_000
API_FREEZE = datetime(2022, 11, 3, 6, 0, tzinfo=UTC)  # the SpaceX API's last refresh
SATCAT_DAY = date(2026, 11, 20)  # the day the CelesTrak snapshot was taken

MU = 398_600.4418  # km^3/s^2
RE = 6_378.137  # km
PIECE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # COSPAR piece letters: no I, no O


def rng(*label: object) -> random.Random:
    """An independent, reproducible stream per purpose (string seeds hash with SHA-512)."""
    return random.Random(":".join(["starlink42k-sample", str(SEED), *map(str, label)]))  # noqa: S311


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, s, tzinfo=UTC)


# --- time formats --------------------------------------------------------------------------------


def fmt_utc(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _nth_sunday(year: int, month: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(6 - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _us_dst(t: datetime, std_offset: int) -> bool:
    """US daylight saving time at UTC instant ``t`` for a zone ``std_offset`` hours from UTC."""
    y = t.year
    if y >= 2007:
        start, end = _nth_sunday(y, 3, 2), _nth_sunday(y, 11, 1)
    else:
        start, end = _nth_sunday(y, 4, 1), _last_sunday(y, 10)
    start_utc = datetime(start.year, start.month, start.day, 2, tzinfo=UTC) - timedelta(hours=std_offset)
    end_utc = datetime(end.year, end.month, end.day, 2, tzinfo=UTC) - timedelta(hours=std_offset + 1)
    return start_utc <= t < end_utc


def fmt_local(t: datetime, pad: str) -> str:
    """``2019-05-23T22:30:00-04:00``: the launch time at the pad's civil time."""
    std = PADS[pad]["utc_offset"]
    offset = std + (1 if PADS[pad]["us_dst"] and _us_dst(t, std) else 0)
    local = t + timedelta(hours=offset)
    sign = "+" if offset >= 0 else "-"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f"{sign}{abs(offset):02d}:00"


def spacetrack_time(t: datetime, micro: bool, old_style: bool) -> str:
    text = t.strftime("%Y-%m-%d %H:%M:%S" if old_style else "%Y-%m-%dT%H:%M:%S")
    return text + (f".{t.microsecond:06d}" if micro else "")


# --- object ids ----------------------------------------------------------------------------------


class ObjectIds:
    """MongoDB ObjectIds: 4-byte creation time, 5 bytes per "process", 3-byte counter."""

    def __init__(self, name: str):
        r = rng("oid", name)
        self.process = r.getrandbits(40)
        self.counter = r.getrandbits(20)

    def new(self, created: datetime) -> str:
        self.counter = (self.counter + 1) & 0xFFFFFF
        return f"{int(created.timestamp()):08x}{self.process:010x}{self.counter:06x}"


# --- reference entities (synthetic ids) ----------------------------------------------------------

SEEDED = utc(2020, 5, 10, 22, 20)  # when the API's collections were first loaded
_ref_ids = ObjectIds("reference")


def _ref(names: list[str]) -> dict[str, str]:
    return {n: _ref_ids.new(SEEDED - timedelta(days=30)) for n in names}


ROCKETS = _ref(["Falcon 1", "Falcon 9", "Falcon Heavy"])
PADS: dict[str, dict[str, Any]] = {
    "KWAJ": {"site": "KWAJ", "utc_offset": 12, "us_dst": False},
    "SLC40": {"site": "AFETR", "utc_offset": -5, "us_dst": True},
    "LC39A": {"site": "AFETR", "utc_offset": -5, "us_dst": True},
    "SLC4E": {"site": "AFWTR", "utc_offset": -8, "us_dst": True},
}
PAD_IDS = _ref(list(PADS))
LANDPADS = _ref(["LZ-1", "LZ-2", "LZ-4", "OCISLY", "JRTI", "ASOG"])
SHIPS = _ref(
    [
        "OCISLY",
        "JRTI",
        "ASOG",
        "GO Quest",
        "GO Searcher",
        "GO Navigator",
        "Megan",
        "Shannon",
        "GO Ms Tree",
        "GO Ms Chief",
        "Bob",
        "Doug",
        "Elsbeth III",
        "Hollywood",
        "NRC Quest",
        "Finn Falgout",
    ]
)


# --- orbits and TLEs -----------------------------------------------------------------------------


def orbit(perigee: float, apogee: float) -> dict[str, float]:
    a = RE + (perigee + apogee) / 2
    period_s = 2 * math.pi * math.sqrt(a**3 / MU)
    return {
        "a": a,
        "e": (apogee - perigee) / (2 * a),
        "period_min": period_s / 60,
        "mean_motion": 86_400 / period_s,
    }


def tle_checksum(line: str) -> int:
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line) % 10


def exp_field(value: float) -> tuple[str, float]:
    """TLE's implied-decimal exponent field (`` 12345-4``) and the float it stands for."""
    if value == 0:
        return " 00000-0", 0.0
    sign = "-" if value < 0 else " "
    e = math.floor(math.log10(abs(value))) + 1
    mant = round(abs(value) / 10**e * 100_000)
    if mant >= 100_000:
        mant, e = mant // 10, e + 1
    if not -9 <= e <= 9:
        return " 00000-0", 0.0
    text = f"{sign}{mant:05d}{'-' if e < 0 else '+'}{abs(e)}"
    return text, float(f"{'-' if value < 0 else ''}0.{mant:05d}e{e}")


def ndot_field(value: float) -> tuple[str, float]:
    value = round(value, 8)
    return f"{'-' if value < 0 else ' '}.{round(abs(value) * 1e8):08d}", value


def cospar_tle(object_id: str) -> str:
    year, rest = object_id.split("-")
    return f"{year[2:]}{rest}"


def piece(i: int) -> str:
    n = len(PIECE_LETTERS)
    if i < n:
        return PIECE_LETTERS[i]
    if i < n + n * n:
        j = i - n
        return PIECE_LETTERS[j // n] + PIECE_LETTERS[j % n]
    raise ValueError(f"piece {i} needs three letters")


# --- the Starlink manifest -----------------------------------------------------------------------


@dataclass
class SLaunch:
    """One launch carrying Starlink satellites."""

    when: datetime
    site: str  # AFETR (Florida) or AFWTR (California)
    count: int
    version: str  # v0.9, v1.0, v1.5, v2 mini
    inclination: float
    shell_km: float
    api_name: str | None = None  # its name in the SpaceX API; None after the API froze
    rideshare: bool = False
    piece_start: int = 0
    dtc: int = 0  # direct-to-cell satellites among ``count``
    api_links_launch: bool = True  # False: the API failed to match its satellites to it
    pad: str = "SLC40"
    cospar: str = ""
    launch_id: str | None = None
    sats: list[Sat] = field(default_factory=list)


@dataclass
class Sat:
    launch: SLaunch
    index: int
    norad: int = 0
    name: str = ""
    version: str = ""
    inclination: float = 0.0
    shell_km: float = 0.0
    insertion: tuple[float, float] = (0.0, 0.0)
    fate: str = "nominal"  # nominal | early | storm | v09 | failed
    decay: date | None = None  # true decay date (may lie after the SATCAT snapshot)
    retire: date | None = None  # when the descent to re-entry starts
    raise_days: int = 90

    @property
    def object_id(self) -> str:
        return f"{self.launch.cospar}{piece(self.launch.piece_start + self.index)}"

    @property
    def launch_day(self) -> date:
        return self.launch.when.date()


def _t(r: random.Random, y: int, m: int, d: int) -> datetime:
    return utc(y, m, d, r.randrange(24), r.randrange(60))


def api_era_starlink() -> list[SLaunch]:
    r = rng("manifest", "api")
    out = [
        SLaunch(utc(2019, 5, 24, 2, 30), "AFETR", 60, "v0.9", 53.0, 550, "Starlink v0.9"),
        SLaunch(utc(2019, 11, 11, 14, 56), "AFETR", 60, "v1.0", 53.05, 550, "Starlink-1 (v1.0)"),
    ]
    v10_2020 = [
        (1, 7),
        (1, 29),
        (2, 17),
        (3, 18),
        (4, 22),
        (6, 4),
        (6, 13),
        (8, 7),
        (8, 18),
        (9, 3),
        (10, 6),
        (10, 18),
        (10, 24),
        (11, 25),
    ]
    v10_2021 = [
        (1, 20),
        (2, 4),
        (2, 16),
        (3, 4),
        (3, 11),
        (3, 14),
        (3, 24),
        (4, 7),
        (4, 29),
        (5, 4),
        (5, 9),
        (5, 15),
        (5, 26),
    ]
    counts_2020 = {6: 58, 7: 57, 8: 58}
    n = 2
    for i, (m, d) in enumerate(v10_2020):
        out.append(
            SLaunch(_t(r, 2020, m, d), "AFETR", counts_2020.get(i, 60), "v1.0", 53.05, 550, f"Starlink-{n} (v1.0)")
        )
        n += 1
    for i, (m, d) in enumerate(v10_2021):
        name = f"Starlink-{n} (v1.0)"
        out.append(
            SLaunch(
                _t(r, 2021, m, d),
                "AFETR",
                52 if i == 11 else 60,
                "v1.0",
                53.05,
                550,
                name,
                api_links_launch=(n != 24),
            )
        )
        n += 1
    out += [
        SLaunch(
            utc(2021, 1, 24, 15, 0),
            "AFETR",
            10,
            "v1.0",
            97.5,
            560,
            "Transporter-1",
            rideshare=True,
            piece_start=100,
        ),
        SLaunch(
            utc(2021, 6, 30, 19, 31),
            "AFETR",
            3,
            "v1.0",
            97.5,
            560,
            "Transporter-2",
            rideshare=True,
            piece_start=80,
            api_links_launch=False,
        ),
        SLaunch(_t(r, 2021, 9, 14), "AFWTR", 51, "v1.5", 70.0, 570, "Starlink 2-1 (v1.5)"),
        SLaunch(_t(r, 2021, 11, 13), "AFETR", 53, "v1.5", 53.2, 540, "Starlink 4-1 (v1.5)"),
        SLaunch(_t(r, 2021, 12, 2), "AFETR", 48, "v1.5", 53.2, 540, "Starlink 4-3 (v1.5)"),
        SLaunch(_t(r, 2021, 12, 18), "AFWTR", 52, "v1.5", 53.2, 540, "Starlink 4-4 (v1.5)"),
    ]
    # 2022: 34 launches, 4-5 and 4-6 in January, 4-7 (the storm) on 3 February, the last on 28 October.
    days = [date(2022, 1, 6), date(2022, 1, 19), date(2022, 2, 3)]
    first, last = date(2022, 2, 3), date(2022, 10, 28)
    span = (last - first).days
    for k in range(1, 31):
        days.append(first + timedelta(days=round(span * k / 31 + r.uniform(-2.5, 2.5))))
    days.append(last)
    days = sorted(days)
    west = set(r.sample(range(4, 33), 8))
    group = {2: 2, 3: 1, 4: 5}
    for k, d in enumerate(days):
        if k in west:
            g = 3 if len([w for w in west if w < k]) % 2 == 0 else 2
            site, inc, shell = "AFWTR", (97.6 if g == 3 else 70.0), (560 if g == 3 else 570)
            count = 46 if g == 3 else r.choice([46, 48, 51])
        else:
            g, site, inc, shell = 4, "AFETR", 53.2, 540
            count = r.choice([46, 47, 48, 50, 51, 52, 53, 53, 54])
        when = utc(2022, 2, 3, 18, 13) if d == date(2022, 2, 3) else _t(r, d.year, d.month, d.day)
        if d == date(2022, 2, 3):
            count = 49
        out.append(
            SLaunch(
                when,
                site,
                count,
                "v1.5",
                inc,
                shell,
                f"Starlink {g}-{group[g]} (v1.5)",
                api_links_launch=(k != 19),
            )
        )
        group[g] += 1
    return sorted(out, key=lambda x: x.when)


def post_freeze_starlink() -> list[SLaunch]:
    r = rng("manifest", "satcat")
    out: list[SLaunch] = []
    months = [(2022, 11), (2022, 12)] + [(y, m) for y in range(2023, 2027) for m in range(1, 13)]
    for y, m in months:
        if (y, m) > (SATCAT_DAY.year, SATCAT_DAY.month):
            break
        if y == 2022:
            rate = 1.0 if m == 11 else 2.0
        elif y == 2023:
            rate = 4 + 2 * (m - 1) / 11
        elif y == 2024:
            rate = 6 + 2 * (m - 1) / 11
        elif y == 2025:
            rate = 7.8 + 1.2 * (m - 1) / 11
        else:
            rate = 8.5
        last_day = (date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)).day
        first_day = 20 if (y, m) == (2022, 11) else 1
        if (y, m) == (SATCAT_DAY.year, SATCAT_DAY.month):
            last_day = SATCAT_DAY.day - 2
            rate *= last_day / 30
        n = max(1, round(rate + r.uniform(-1.2, 1.2)))
        for _ in range(n):
            day = r.randint(first_day, last_day)
            out.append(_post_freeze_launch(r, _t(r, y, m, day)))
    # the very last launch, two days before the snapshot: too new for elements
    out.append(_post_freeze_launch(r, utc(2026, 11, 18, 4, 12)))
    return sorted(out, key=lambda x: x.when)


def _post_freeze_launch(r: random.Random, when: datetime) -> SLaunch:
    site = "AFWTR" if r.random() < 0.32 else "AFETR"
    if site == "AFETR":
        inc, shell = (43.0, 559) if r.random() < 0.55 else (53.2, 540)
    else:
        inc, shell = r.choice([(53.0, 545), (53.0, 545), (70.0, 570), (97.6, 560)])
    y = when.year
    dtc = 0
    if when < utc(2023, 3, 1):
        version, count = "v1.5", r.randint(51, 54)
    elif y == 2023:
        if site == "AFWTR" and r.random() < 0.25:
            version, count = "v1.5", r.randint(46, 52)
        else:
            version, count = "v2 mini", r.randint(21, 23)
    elif y == 2024:
        version, count = "v2 mini", r.randint(20, 23)
        if site == "AFWTR" and r.random() < 0.35:
            dtc = r.choice([6, 13, 13])
            count = 21 if dtc == 6 else 20
            inc, shell = 53.0, 545
    elif y == 2025:
        version, count = "v2 mini", r.randint(22, 27)
        if site == "AFWTR" and when < utc(2025, 4, 1) and r.random() < 0.3:
            dtc = 13
    else:
        version, count = "v2 mini", r.randint(23, 28)
    pad = "SLC4E" if site == "AFWTR" else ("LC39A" if r.random() < 0.25 else "SLC40")
    return SLaunch(when, site, count, version, inc, shell, pad=pad, dtc=dtc)


# --- numbering: COSPAR, NORAD, names -------------------------------------------------------------

WORLD_LAUNCHES = {2019: 103, 2020: 114, 2021: 146, 2022: 186, 2023: 223, 2024: 261, 2025: 330, 2026: 352}
NORAD_ANCHORS = [
    (date(2019, 5, 24), 44235),
    (date(2019, 11, 11), 44713),
    (date(2021, 1, 1), 47200),
    (date(2022, 1, 1), 50500),
    (date(2023, 1, 1), 55200),
    (date(2024, 1, 1), 58600),
    (date(2025, 1, 1), 62500),
    (date(2026, 1, 1), 67200),
    (date(2026, 12, 31), 72300),
]
COSPAR_ANCHORS = {date(2019, 5, 24): 29, date(2019, 11, 11): 74}


def _norad_floor(d: date) -> int:
    for (d0, n0), (d1, n1) in itertools.pairwise(NORAD_ANCHORS):
        if d0 <= d <= d1:
            return round(n0 + (n1 - n0) * (d - d0).days / (d1 - d0).days)
    raise ValueError(d)


def number_launches(launches: list[SLaunch]) -> None:
    r = rng("numbering")
    last_num: dict[int, int] = {}
    next_norad = 0
    name_v1, name_v2 = 1007, 30000
    for ln in launches:
        day = ln.when.date()
        y = day.year
        frac = (ln.when - utc(y, 1, 1)).total_seconds() / (365.25 * 86400)
        num = COSPAR_ANCHORS.get(day) or 1 + int(frac * WORLD_LAUNCHES[y] * 0.97) + r.randint(-2, 2)
        num = max(num, last_num.get(y, 0) + 1)
        last_num[y] = num
        ln.cospar = f"{y}-{num:03d}"
        base = max(_norad_floor(day), next_norad + r.randint(0, 30)) + ln.piece_start
        for i in range(ln.count):
            s = Sat(ln, i, norad=base + i, version=ln.version)
            if ln.version == "v0.9":
                s.name = f"STARLINK-{21 + i}"
            elif ln.version in ("v1.0", "v1.5"):
                s.name = f"STARLINK-{name_v1 + i}"
            else:
                s.name = f"STARLINK-{name_v2 + i}" + (" [DTC]" if i < ln.dtc else "")
            ln.sats.append(s)
        if ln.version in ("v1.0", "v1.5"):
            name_v1 += ln.count + r.randint(0, 12)
        elif ln.version == "v2 mini":
            name_v2 += ln.count + r.randint(0, 9)
        next_norad = base + ln.count + 1  # the upper stage is catalogued after the payloads


# --- fates: decays and orbits --------------------------------------------------------------------

INSERTION = {
    "v0.9": (435, 445),
    "v1.0": (280, 300),
    "v1.5": (232, 335),
    "v2 mini": (282, 295),
    "DTC": (350, 360),
    "rideshare": (520, 532),
}
LIFETIME_YEARS = {
    "v0.9": (3.0, 0.5),
    "v1.0": (4.6, 0.7),
    "v1.5": (4.9, 0.6),
    "v2 mini": (5.3, 0.6),
    "DTC": (5.0, 0.5),
}
STORM_LAUNCH = date(2022, 2, 3)
V09_DECAY_YEARS = [(2019, 2), (2020, 36), (2021, 16), (2022, 6)]


def assign_fates(launches: list[SLaunch]) -> None:
    r = rng("fates")
    for ln in launches:
        storm_lost = set(r.sample(range(ln.count), 38)) if ln.when.date() == STORM_LAUNCH else set()
        v09_years = [y for y, k in V09_DECAY_YEARS for _ in range(k)]
        r.shuffle(v09_years)
        for s in ln.sats:
            dtc = s.name.endswith("[DTC]")
            kind = "DTC" if dtc else s.version
            s.inclination = 53.0 if dtc else ln.inclination
            s.shell_km = 360.0 if dtc else ln.shell_km + r.choice([-10, 0, 0, 0, 10]) * (kind == "v2 mini")
            s.insertion = INSERTION["rideshare" if ln.rideshare else kind]
            s.raise_days = r.randint(40, 75) if kind == "v0.9" else r.randint(55, 150)
            launched = ln.when.date()
            if s.version == "v0.9":
                y = v09_years[s.index]
                lo = max(date(y, 1, 1), launched + timedelta(days=110))
                hi = date(y, 12, 31) if y < 2022 else date(2022, 9, 30)
                s.decay = lo + timedelta(days=r.randint(0, (hi - lo).days))
                s.fate = "v09"
                s.retire = s.decay - timedelta(days=r.randint(60, 180))
                continue
            if s.index in storm_lost:
                s.fate = "storm"
                s.decay = date(2022, 2, r.randint(6, 12))
                continue
            if r.random() < 0.025:
                s.fate = "early"
                s.decay = launched + timedelta(days=r.randint(75, 330))
                continue
            mean, sd = LIFETIME_YEARS[kind]
            life = max(1.8, r.gauss(mean, sd))
            retire = launched + timedelta(days=round(life * 365.25))
            failure = launched + timedelta(days=90 + round(r.expovariate(0.01) * 365.25))
            if failure < retire:
                s.fate, s.retire = "failed", failure
                s.decay = failure + timedelta(days=r.randint(150, 500))
            else:
                s.retire = retire
                s.decay = retire + timedelta(days=r.randint(100, 220))
            if s.retire < launched + timedelta(days=s.raise_days + 30):
                s.retire = launched + timedelta(days=s.raise_days + 30)


def state_at(s: Sat, when: date, r: random.Random) -> tuple[str, float, float]:
    """(phase, perigee km, apogee km) of ``s`` on ``when``; phase: decayed|raising|up|descending."""
    if s.decay is not None and when >= s.decay:
        p = r.uniform(140, 200)
        return "decayed", p, p + r.uniform(3, 25)
    age = (when - s.launch_day).days
    ins_p, ins_a = s.insertion
    if s.fate in ("early", "storm"):
        span = max(1, (s.decay - s.launch_day).days)
        f = min(1.0, age / span) ** 2
        p = ins_p - (ins_p - 150) * f
        return "descending", p, ins_a - (ins_a - 170) * f + r.uniform(0, 5)
    if s.retire is not None and when >= s.retire:
        span = max(1, (s.decay - s.retire).days)
        f = min(1.0, (when - s.retire).days / span) ** 1.3
        p = s.shell_km - (s.shell_km - 180) * f
        return "descending", p - r.uniform(0, 4), p + r.uniform(0, 6)
    if age < s.raise_days:
        f = age / s.raise_days
        p = ins_p + (s.shell_km - 2 - ins_p) * f + r.uniform(-3, 3)
        a = ins_a + (s.shell_km + 2 - ins_a) * f + r.uniform(-3, 3)
        return "raising", min(p, a), max(p, a)
    p = s.shell_km - r.uniform(0.5, 3)
    return "up", p, s.shell_km + r.uniform(0.5, 3)


# --- SpaceX API: starlink documents --------------------------------------------------------------

FILE_ANCHOR, GP_ANCHOR, ID_ANCHOR_DAY = 2_768_947, 155_985_688, utc(2020, 6, 19)
OLD_STYLE_BEFORE = utc(2021, 6, 1)


def starlink_docs(launches: list[SLaunch]) -> list[dict[str, Any]]:
    ids = ObjectIds("starlink")
    docs = []
    freeze_day = API_FREEZE.date()
    gp_seen: set[int] = set()
    for ln in launches:
        created = max(utc(2020, 6, 20, 5, 10), ln.when + timedelta(days=3, hours=5))
        for s in ln.sats:
            r = rng("api-sat", s.norad)
            decayed = s.decay is not None and s.decay <= freeze_day
            if decayed:
                epoch = datetime.combine(s.decay, datetime.min.time(), UTC) - timedelta(
                    seconds=r.uniform(3600, 36 * 3600)
                )
                epoch = max(epoch, ln.when + timedelta(hours=6))
            else:
                epoch = API_FREEZE - timedelta(days=r.uniform(0.3, 26))
                epoch = max(epoch, ln.when + timedelta(hours=r.uniform(10, 60)))
            phase, peri, apo = state_at(s, epoch.date(), r)
            if decayed:
                phase = "decayed"
            # TLE epoch: day of year with 8 decimals, from which the OMM's microseconds follow
            jan1 = utc(epoch.year, 1, 1)
            doy_frac = (epoch - jan1).total_seconds() / 86400
            doy, frac8 = int(doy_frac) + 1, min(round((doy_frac % 1) * 1e8), 99_999_999)
            epoch = jan1 + timedelta(days=doy - 1, microseconds=round(frac8 / 1e8 * 86400e6))
            creation = epoch + timedelta(minutes=r.uniform(20, 9 * 60))
            if creation > API_FREEZE:
                creation = API_FREEZE - timedelta(minutes=r.uniform(1, 90))
            creation = creation.replace(microsecond=0)
            old_style = epoch < OLD_STYLE_BEFORE
            el = orbit(peri, apo)
            inc = round(s.inclination + r.gauss(0, 0.012), 4)
            raan, argp, ma = (round(r.uniform(0, 360), 4) for _ in range(3))
            ecc7 = max(1, round(el["e"] * 1e7))
            mm = round(el["mean_motion"], 8)
            if phase in ("decayed", "descending") and peri < 260:
                ndot_v = r.uniform(0.002, 0.5)
                nddot_v = r.uniform(1.0e-5, 1.3e-5)
                bstar_v = r.uniform(2e-4, 3e-3)
            elif phase == "raising":
                ndot_v, nddot_v, bstar_v = -r.uniform(1e-5, 2e-3), 0.0, r.uniform(-2e-4, 5e-4)
            else:
                ndot_v, nddot_v, bstar_v = r.uniform(-5e-6, 4e-5), 0.0, r.uniform(-1e-4, 8e-4)
            ndot_s, ndot = ndot_field(ndot_v)
            nddot_s, nddot = exp_field(nddot_v)
            bstar_s, bstar = exp_field(bstar_v)
            rev = int((epoch - ln.when).total_seconds() / 86400 * (mm + 0.1)) % 100_000
            days_since = (creation - ID_ANCHOR_DAY).total_seconds() / 86400
            file_no = FILE_ANCHOR + round(days_since * 806)
            gp_id = GP_ANCHOR + round(days_since * 64_300) + r.randrange(400)
            while gp_id in gp_seen:
                gp_id += 1
            gp_seen.add(gp_id)
            object_id = s.object_id
            line1 = (
                f"1 {s.norad:05d}U {cospar_tle(object_id):<8} {epoch.year % 100:02d}{doy:03d}.{frac8:08d} "
                f"{ndot_s} {nddot_s} {bstar_s} 0  999"
            )
            line2 = f"2 {s.norad:05d} {inc:8.4f} {raan:8.4f} {ecc7:07d} {argp:8.4f} {ma:8.4f} {mm:11.8f}{rev:5d}"
            line1 += str(tle_checksum(line1))
            line2 += str(tle_checksum(line2))
            track = {
                "CCSDS_OMM_VERS": "2.0",
                "COMMENT": "GENERATED VIA SPACE-TRACK.ORG API",
                "CREATION_DATE": spacetrack_time(creation, micro=False, old_style=old_style),
                "ORIGINATOR": "18 SPCS",
                "OBJECT_NAME": s.name,
                "OBJECT_ID": object_id,
                "CENTER_NAME": "EARTH",
                "REF_FRAME": "TEME",
                "TIME_SYSTEM": "UTC",
                "MEAN_ELEMENT_THEORY": "SGP4",
                "EPOCH": spacetrack_time(epoch, micro=True, old_style=old_style),
                "MEAN_MOTION": mm,
                "ECCENTRICITY": ecc7 / 1e7,
                "INCLINATION": inc,
                "RA_OF_ASC_NODE": raan,
                "ARG_OF_PERICENTER": argp,
                "MEAN_ANOMALY": ma,
                "EPHEMERIS_TYPE": 0,
                "CLASSIFICATION_TYPE": "U",
                "NORAD_CAT_ID": s.norad,
                "ELEMENT_SET_NO": 999,
                "REV_AT_EPOCH": rev,
                "BSTAR": bstar,
                "MEAN_MOTION_DOT": ndot,
                "MEAN_MOTION_DDOT": nddot,
                "SEMIMAJOR_AXIS": round(el["a"], 3),
                "PERIOD": round(el["period_min"], 3),
                "APOAPSIS": round(el["a"] * (1 + el["e"]) - RE, 3),
                "PERIAPSIS": round(el["a"] * (1 - el["e"]) - RE, 3),
                "OBJECT_TYPE": "PAYLOAD",
                "RCS_SIZE": "LARGE" if ln.when < utc(2022, 6, 1) else None,
                "COUNTRY_CODE": "US",
                "LAUNCH_DATE": s.launch_day.isoformat(),
                "SITE": ln.site,
                "DECAY_DATE": s.decay.isoformat() if decayed else None,
                "DECAYED": 1 if decayed else 0,
                "FILE": file_no,
                "GP_ID": gp_id,
                "TLE_LINE0": f"0 {s.name}",
                "TLE_LINE1": line1,
                "TLE_LINE2": line2,
            }
            if decayed:
                lon = lat = height = velocity = None
            else:
                u = r.uniform(0, 2 * math.pi)
                lat = math.degrees(math.asin(math.sin(math.radians(inc)) * math.sin(u)))
                lon = r.uniform(-180, 180)
                radius = el["a"] * (1 - el["e"] * math.cos(r.uniform(0, 2 * math.pi)))
                height = radius - RE + 21.4 * math.sin(math.radians(lat)) ** 2 + r.uniform(-4, 4)
                velocity = math.sqrt(MU * (2 / radius - 1 / el["a"]))
            docs.append(
                {
                    "spaceTrack": track,
                    "version": s.version,
                    "launch": ln.launch_id if ln.api_links_launch else None,
                    "longitude": lon,
                    "latitude": lat,
                    "height_km": height,
                    "velocity_kms": velocity,
                    "id": ids.new(created + timedelta(seconds=s.index // 20)),
                }
            )
    return docs


# --- SpaceX API: launch documents ----------------------------------------------------------------


@dataclass
class Launch:
    when: datetime
    name: str
    kind: str  # starlink | f1 | test | crs | crew | comsat | gov | science | iridium | rideshare
    rocket: str = "Falcon 9"
    pad: str = "SLC40"
    failure: dict[str, Any] | None = None
    upcoming: bool = False
    precision: str = "hour"
    starlink: SLaunch | None = None
    doc: dict[str, Any] = field(default_factory=dict)


F1 = [
    (
        utc(2006, 3, 24, 22, 30),
        "FalconSat",
        {"time": 33, "altitude": None, "reason": "engine fire from a fuel leak shortly after liftoff"},
    ),
    (
        utc(2007, 3, 21, 1, 10),
        "DemoSat",
        {
            "time": 301,
            "altitude": 289,
            "reason": "second stage roll oscillation led to early engine shutdown",
        },
    ),
    (
        utc(2008, 8, 3, 3, 34),
        "Trailblazer",
        {"time": 140, "altitude": 35, "reason": "residual first stage thrust caused recontact at separation"},
    ),
    (utc(2008, 9, 28, 23, 15), "RatSat", None),
    (utc(2009, 7, 13, 3, 35), "RazakSat", None),
]
FIXED: list[tuple[datetime, str, str, str, str]] = [
    (utc(2010, 6, 4, 18, 45), "Falcon 9 Test Flight", "test", "Falcon 9", "SLC40"),
    (utc(2010, 12, 8, 15, 43), "COTS 1", "crs", "Falcon 9", "SLC40"),
    (utc(2012, 5, 22, 7, 44), "COTS 2", "crs", "Falcon 9", "SLC40"),
    (utc(2018, 2, 6, 20, 45), "Falcon Heavy Test Flight", "test", "Falcon Heavy", "LC39A"),
    (utc(2019, 4, 11, 22, 35), "ArabSat 6A", "comsat", "Falcon Heavy", "LC39A"),
    (utc(2019, 6, 25, 3, 30), "STP-2", "gov", "Falcon Heavy", "LC39A"),
    (utc(2019, 3, 2, 7, 49), "CCtCap Demo Mission 1", "crew", "Falcon 9", "LC39A"),
    (utc(2020, 5, 30, 19, 22), "CCtCap Demo Mission 2", "crew", "Falcon 9", "LC39A"),
    (utc(2020, 11, 16, 0, 27), "Crew-1", "crew", "Falcon 9", "LC39A"),
    (utc(2021, 4, 23, 9, 49), "Crew-2", "crew", "Falcon 9", "LC39A"),
    (utc(2021, 9, 16, 0, 2), "Inspiration4", "crew", "Falcon 9", "LC39A"),
    (utc(2021, 11, 11, 2, 3), "Crew-3", "crew", "Falcon 9", "LC39A"),
    (utc(2022, 4, 8, 15, 17), "Ax-1", "crew", "Falcon 9", "LC39A"),
    (utc(2022, 4, 27, 7, 52), "Crew-4", "crew", "Falcon 9", "LC39A"),
    (utc(2022, 10, 5, 16, 0), "Crew-5", "crew", "Falcon 9", "LC39A"),
    (utc(2022, 1, 13, 15, 25), "Transporter-3", "rideshare", "Falcon 9", "SLC40"),
    (utc(2022, 4, 1, 16, 24), "Transporter-4", "rideshare", "Falcon 9", "SLC40"),
    (utc(2022, 5, 25, 18, 35), "Transporter-5", "rideshare", "Falcon 9", "SLC40"),
    (utc(2022, 11, 1, 13, 41), "USSF-44", "gov", "Falcon Heavy", "LC39A"),
]
CRS_DATES = [
    (2012, 10, 8),
    (2013, 3, 1),
    (2014, 4, 18),
    (2014, 9, 21),
    (2015, 1, 10),
    (2015, 4, 14),
    (2015, 6, 28),
    (2016, 4, 8),
    (2016, 7, 18),
    (2017, 2, 19),
    (2017, 6, 3),
    (2017, 8, 14),
    (2017, 12, 15),
    (2018, 4, 2),
    (2018, 6, 29),
    (2018, 12, 5),
    (2019, 5, 4),
    (2019, 7, 25),
    (2019, 12, 5),
    (2020, 3, 7),
    (2020, 12, 6),
    (2021, 6, 3),
    (2021, 8, 29),
    (2021, 12, 21),
    (2022, 7, 15),
]
NON_STARLINK_PER_YEAR = {
    2010: 2,
    2012: 2,
    2013: 3,
    2014: 6,
    2015: 7,
    2016: 8,
    2017: 18,
    2018: 21,
    2019: 11,
    2020: 12,
    2021: 14,
    2022: 14,
}
COMSAT_PREFIXES = [
    "SES",
    "Intelsat",
    "Eutelsat",
    "JCSAT",
    "Thaicom",
    "Telstar",
    "KoreaSat",
    "Hispasat",
    "Inmarsat",
    "SXM",
    "Turksat",
    "Nilesat",
    "Amazonas",
    "Galaxy",
    "Telkom",
    "AsiaSat",
    "Echostar",
    "ABS",
    "Bangabandhu",
    "Nusantara",
    "Spaceway",
    "Arabsat",
    "Es'hail",
    "Paz",
    "Ovzon",
    "Kacific",
    "Anik",
    "BulgariaSat",
    "Merah Putih",
    "Badr",
]
SCIENCE_NAMES = [
    "CASSIOPE",
    "DSCOVR",
    "Jason 3",
    "Formosat-5",
    "TESS",
    "GRACE-FO",
    "SAOCOM 1A",
    "RADARSAT C-1",
    "SAOCOM 1B",
    "Sentinel-6",
    "DART",
    "IXPE",
    "CSG-2",
    "KPLO",
    "SARah 1",
    "SWOT",
    "TROPICS",
    "EarthCARE",
    "PACE",
]
UPCOMING = [
    (utc(2022, 9, 27, 20, 0), "hour", "comsat"),
    (utc(2022, 10, 8, 23, 5), "hour", "comsat"),
    (utc(2022, 10, 20, 14, 50), "hour", "gov"),
    (utc(2022, 11, 8, 9, 0), "hour", "comsat"),
    (utc(2022, 11, 18, 19, 54), "hour", "crs"),
    (utc(2022, 11, 22, 0, 0), "day", "comsat"),
    (utc(2022, 12, 5, 0, 0), "day", "science"),
    (utc(2022, 12, 12, 0, 0), "day", "science"),
    (utc(2023, 1, 1), "month", "rideshare"),
    (utc(2023, 2, 1), "month", "crew"),
    (utc(2023, 3, 1), "month", "crs"),
    (utc(2023, 4, 1), "quarter", "crew"),
    (utc(2023, 1, 1), "half", "gov"),
    (utc(2023, 7, 1), "half", "science"),
    (utc(2023, 6, 1), "month", "comsat"),
]


class Namer:
    def __init__(self) -> None:
        self.r = rng("names")
        self.used: set[str] = set()
        self.counters = Counter({"crs": 25, "crew": 5, "rideshare": 5, "gps": 0, "nrol": 0, "iridium": 0})
        self.science = list(SCIENCE_NAMES)

    def take(self, name: str) -> str:
        assert name not in self.used, name
        self.used.add(name)
        return name

    def make(self, kind: str, when: datetime) -> str:
        r = self.r
        if kind in ("crs", "crew", "rideshare"):
            self.counters[kind] += 1
            prefix = {"crs": "CRS", "crew": "Crew", "rideshare": "Transporter"}[kind]
            return self.take(f"{prefix}-{self.counters[kind]}")
        if kind == "iridium":
            self.counters["iridium"] += 1
            return self.take(f"Iridium NEXT Mission {self.counters['iridium']}")
        if kind == "gov":
            if when.year >= 2018 and r.random() < 0.5:
                self.counters["gps"] += 1
                return self.take(f"GPS III SV{self.counters['gps']:02d}")
            while True:
                name = f"NROL-{r.randint(40, 190)}"
                if name not in self.used:
                    return self.take(name)
        if kind == "science" and self.science:
            while self.science:
                name = self.science.pop(0)
                if name not in self.used:
                    return self.take(name)
        while True:
            name = f"{r.choice(COMSAT_PREFIXES)}-{r.randint(1, 14)}"
            if r.random() < 0.1:
                name += r.choice(["A", "B", "C"])
            if name not in self.used:
                return self.take(name)


def launch_manifest(starlink: list[SLaunch]) -> list[Launch]:
    r = rng("launches")
    namer = Namer()
    out: list[Launch] = []
    for when, name, fail in F1:
        out.append(Launch(when, namer.take(name), "f1", "Falcon 1", "KWAJ", failure=fail))
    for when, name, kind, rocket, pad in FIXED:
        out.append(Launch(when, namer.take(name), kind, rocket, pad))
    for i, (y, m, d) in enumerate(CRS_DATES, start=1):
        fail = None
        if (y, m, d) == (2015, 6, 28):
            fail = {
                "time": 139,
                "altitude": 40,
                "reason": "a failed second stage strut released a helium tank, overpressurizing the stage",
            }
        out.append(
            Launch(
                _t(r, y, m, d),
                namer.take(f"CRS-{i}"),
                "crs",
                pad="SLC40" if y < 2017 else "LC39A",
                failure=fail,
            )
        )
    for ln in starlink:
        if ln.api_name and not ln.rideshare:
            pad = "SLC4E" if ln.site == "AFWTR" else ("LC39A" if r.random() < 0.3 else "SLC40")
            ln.pad = pad
            out.append(Launch(ln.when, namer.take(ln.api_name), "starlink", pad=pad, starlink=ln))
        elif ln.rideshare:
            ln.pad = "SLC40"
            out.append(Launch(ln.when, namer.take(ln.api_name or ""), "rideshare", pad="SLC40", starlink=ln))
    # rideshares carrying a few Starlinks count among the non-Starlink launches of their year
    have = Counter(x.when.year for x in out if x.kind not in ("starlink", "f1"))
    iridium_left = 8
    for year, total in NON_STARLINK_PER_YEAR.items():
        for _ in range(total - have[year]):
            when = _t(r, year, r.randint(1, 12), r.randint(1, 28))
            if year == 2022:
                when = _t(r, 2022, r.randint(1, 10), r.randint(1, 28))
            if 2017 <= year <= 2019 and iridium_left and r.random() < 0.45:
                kind, iridium_left = "iridium", iridium_left - 1
            else:
                kind = r.choices(["comsat", "gov", "science"], weights=[5, 2, 2])[0]
            pad = (
                "SLC4E"
                if kind == "iridium" or (kind == "science" and r.random() < 0.5)
                else ("SLC40" if year < 2017 or r.random() < 0.6 else "LC39A")
            )
            out.append(Launch(when, "", kind, pad=pad))
    for when, precision, kind in UPCOMING:
        pad = "LC39A" if kind in ("crew", "crs") else r.choice(["SLC40", "SLC40", "LC39A", "SLC4E"])
        out.append(Launch(when, "", kind, pad=pad, upcoming=True, precision=precision))
    out.sort(key=lambda x: (x.when, x.upcoming))
    for ln in out:  # numbered series (CRS-26, Iridium NEXT Mission 3, ...) follow launch order
        if not ln.name:
            ln.name = namer.make(ln.kind, ln.when)
    return out


class Fleet:
    """Boosters, capsules and crews: ids that recur across launches like the real ones do."""

    def __init__(self) -> None:
        self.r = rng("fleet")
        self.ids = ObjectIds("cores")
        self.capsule_ids = ObjectIds("capsules")
        self.crew_ids = ObjectIds("crew")
        self.boosters: list[dict[str, Any]] = []  # {"id", "flights", "alive"}
        self.dragon1: list[str] = []
        self.dragon2: list[str] = []

    def _booster(self, when: datetime, reuse_p: float) -> dict[str, Any]:
        ready = [b for b in self.boosters if b["alive"] and b["last"] + timedelta(days=27) < when]
        if ready and self.r.random() < reuse_p:
            b = self.r.choice(ready)
            b["flights"] += 1
            b["last"] = when
            return b
        b = {
            "id": self.ids.new(min(SEEDED, when - timedelta(days=60))),
            "flights": 1,
            "alive": True,
            "last": when,
        }
        self.boosters.append(b)
        return b

    def cores(self, ln: Launch) -> list[dict[str, Any]]:
        r, y = self.r, ln.when.year
        n = 3 if ln.rocket == "Falcon Heavy" else 1
        west = ln.pad == "SLC4E"
        out = []
        for k in range(n):
            if ln.kind == "f1" or ln.when < utc(2013, 9, 1):
                b = self._booster(ln.when, 0)
                b["alive"] = False
                out.append(
                    {
                        "core": b["id"],
                        "flight": 1,
                        "gridfins": False,
                        "legs": False,
                        "reused": False,
                        "landing_attempt": False,
                        "landing_success": None,
                        "landing_type": None,
                        "landpad": None,
                    }
                )
                continue
            reuse_p = {2017: 0.3, 2018: 0.45, 2019: 0.6, 2020: 0.8, 2021: 0.9}.get(y, 0.93 if y >= 2022 else 0)
            if ln.upcoming:
                known = r.random() < 0.5
                b = self._booster(ln.when, 1.0) if known else None
                pad_name = "LZ-4" if west and k == 0 and r.random() < 0.3 else self._asds(ln)
                out.append(
                    {
                        "core": b["id"] if b else None,
                        "flight": b["flights"] if b else None,
                        "gridfins": True,
                        "legs": True,
                        "reused": True if b else None,
                        "landing_attempt": True,
                        "landing_success": None,
                        "landing_type": "RTLS" if pad_name.startswith("LZ") else "ASDS",
                        "landpad": LANDPADS[pad_name],
                    }
                )
                continue
            b = self._booster(ln.when, reuse_p)
            early = ln.when < utc(2015, 12, 1)
            attempt = r.random() < (0.5 if early else {2016: 0.8, 2017: 0.85}.get(y, 0.95))
            if (ln.kind == "starlink" and ln.when.year >= 2020) or k > 0:  # FH side cores fly back
                attempt = True
            ltype, pad_name, success = None, None, None
            if attempt:
                if early:
                    ltype = r.choice(["Ocean", "ASDS"])
                    pad_name = self._asds(ln) if ltype == "ASDS" else None
                    success = ltype == "Ocean" and r.random() < 0.5
                else:
                    rtls = k > 0 or (ln.kind in ("crs", "crew", "science", "gov") and r.random() < 0.55)
                    if ln.kind == "starlink" or (ln.rocket == "Falcon Heavy" and k == 0):
                        rtls = False
                    if rtls:
                        ltype = "RTLS"
                        pad_name = "LZ-4" if west else ("LZ-1" if k < 2 else "LZ-2")
                    else:
                        ltype, pad_name = "ASDS", self._asds(ln)
                    success = r.random() < {2016: 0.7, 2017: 0.9}.get(y, 0.97 if y > 2017 else 0.5)
            b["alive"] = bool(success) and not early
            out.append(
                {
                    "core": b["id"],
                    "flight": b["flights"],
                    "gridfins": not early or attempt,
                    "legs": attempt,
                    "reused": b["flights"] > 1,
                    "landing_attempt": attempt,
                    "landing_success": success,
                    "landing_type": ltype,
                    "landpad": LANDPADS[pad_name] if pad_name else None,
                }
            )
        return out

    def _asds(self, ln: Launch) -> str:
        if ln.pad == "SLC4E":
            return "JRTI" if ln.when < utc(2021, 6, 1) else "OCISLY"
        if ln.when < utc(2021, 6, 1):
            return self.r.choice(["OCISLY", "JRTI"])
        return self.r.choice(["JRTI", "ASOG"])

    def capsule(self, ln: Launch) -> list[str]:
        if ln.kind not in ("crs", "crew"):
            return []
        dragon2 = ln.kind == "crew" or ln.when >= utc(2020, 11, 1)
        pool = self.dragon2 if dragon2 else self.dragon1
        if pool and (ln.when.year >= 2017 or dragon2) and self.r.random() < 0.6:
            return [self.r.choice(pool)]
        cid = self.capsule_ids.new(min(SEEDED, ln.when - timedelta(days=90)))
        pool.append(cid)
        return [cid]

    def crew(self, ln: Launch) -> list[dict[str, Any]]:
        if ln.kind != "crew" or ln.name == "CCtCap Demo Mission 1":
            return []
        roles = (
            ["Commander", "Joint Operations Commander"]
            if ln.name.endswith("Mission 2")
            else ["Commander", "Pilot", "Mission Specialist 1", "Mission Specialist 2"]
        )
        return [{"crew": self.crew_ids.new(min(SEEDED, ln.when - timedelta(days=200))), "role": role} for role in roles]


_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _token(r: random.Random, n: int, alphabet: str = _ALNUM) -> str:
    return "".join(r.choice(alphabet) for _ in range(n))


def _slug(name: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def links(ln: Launch, r: random.Random) -> dict[str, Any]:
    far = ln.upcoming and ln.precision != "hour"
    patch = None if far else f"https://images2.imgbox.com/{r.randrange(256):02x}/{r.randrange(256):02x}/"
    yt = None if ln.upcoming else _token(r, 11, _ALNUM + "-_")
    slug = _slug(ln.name)
    reddit: dict[str, Any] = {"campaign": None, "launch": None, "media": None, "recovery": None}
    if ln.when.year >= 2014 and not far:
        base = "https://www.reddit.com/r/spacex/comments/"
        reddit["campaign"] = f"{base}{_token(r, 6).lower()}/{slug}_launch_campaign_thread/"
        if not ln.upcoming:
            reddit["launch"] = f"{base}{_token(r, 6).lower()}/rspacex_{slug}_official_launch_discussion/"
            reddit["media"] = f"{base}{_token(r, 6).lower()}/rspacex_{slug}_media_thread/" if r.random() < 0.8 else None
            reddit["recovery"] = (
                f"{base}{_token(r, 6).lower()}/{slug}_recovery_thread/"
                if ln.when.year >= 2016 and r.random() < 0.4
                else None
            )
    flickr: list[str] = []
    if not ln.upcoming and 2014 <= ln.when.year <= 2021 and r.random() < 0.6:
        for _ in range(r.randint(2, 7)):
            if ln.when.year < 2019:
                flickr.append(
                    f"https://farm{r.randint(1, 9)}.staticflickr.com/{r.randint(1000, 9999)}/"
                    f"{r.randint(10**10, 10**11 - 1)}_{r.getrandbits(40):010x}_o.jpg"
                )
            else:
                flickr.append(
                    f"https://live.staticflickr.com/65535/{r.randint(10**10, 10**11 - 1)}_"
                    f"{r.getrandbits(40):010x}_o.jpg"
                )
    starlink = ln.kind == "starlink"
    host = r.choice(["spaceflightnow.com", "www.space.com", "www.nasaspaceflight.com"])
    return {
        "patch": {
            "small": f"{patch}{_token(r, 8)}_o.png" if patch else None,
            "large": f"{patch}{_token(r, 8)}_o.png" if patch else None,
        },
        "reddit": reddit,
        "flickr": {"small": [], "original": flickr},
        "presskit": (
            f"https://www.spacex.com/media/{slug}_press_kit.pdf"
            if not ln.upcoming and 2014 <= ln.when.year <= 2021 and r.random() < 0.6
            else None
        ),
        "webcast": f"https://youtu.be/{yt}" if yt else None,
        "youtube_id": yt,
        "article": (
            f"https://{host}/{ln.when:%Y/%m/%d}/{slug.replace('_', '-')}/"
            if not ln.upcoming and r.random() < 0.9
            else None
        ),
        "wikipedia": None
        if ln.upcoming
        else (
            "https://en.wikipedia.org/wiki/Starlink"
            if starlink
            else f"https://en.wikipedia.org/wiki/{ln.name.replace(' ', '_')}"
        ),
    }


def details(ln: Launch, r: random.Random) -> str | None:
    s = ln.starlink
    if ln.kind == "starlink" and s:
        if ln.when.year >= 2022 and r.random() < 0.8:
            return None
        return (
            f"This mission puts {s.count} Starlink {s.version} satellites into a low insertion orbit, "
            f"from which they climb to their {s.shell_km:.0f} km shell at {s.inclination:g} degrees. "
            "The first stage is to land on a droneship downrange."
        )
    if ln.failure:
        return f"The vehicle was lost: {ln.failure['reason']}."
    if ln.upcoming or r.random() < 0.3:
        return None
    text = {
        "crs": "A Dragon cargo mission to the International Space Station under NASA's resupply contract.",
        "crew": "A crewed Dragon mission; the capsule docks autonomously and returns to a splashdown.",
        "comsat": "Launch of a commercial communications satellite to a geosynchronous transfer orbit.",
        "gov": "A US government mission; payload details are limited.",
        "science": "Launch of an Earth-observation or science payload.",
        "iridium": "Ten satellites for the Iridium NEXT constellation, from Vandenberg.",
        "rideshare": "A dedicated smallsat rideshare to sun-synchronous orbit with dozens of payloads.",
        "test": "A demonstration flight of the vehicle.",
        "f1": "A Falcon 1 flight from Omelek Island, Kwajalein Atoll.",
    }[ln.kind]
    return text


def launch_docs(manifest: list[Launch]) -> list[dict[str, Any]]:
    ids = ObjectIds("launches")
    payload_ids = ObjectIds("payloads")
    fleet = Fleet()
    docs = []
    for flight, ln in enumerate(manifest, start=1):
        r = rng("launch", ln.name)
        created = (
            SEEDED + timedelta(seconds=flight * 7)
            if ln.when < SEEDED
            else min(ln.when - timedelta(days=r.randint(20, 60)), API_FREEZE - timedelta(days=1))
        )
        ln.doc["id"] = ids.new(created)
        if ln.starlink:
            ln.starlink.launch_id = ln.doc["id"]
        capsule = fleet.capsule(ln)
        cores = fleet.cores(ln)
        crew = fleet.crew(ln)
        ships: list[str] = []
        for c in cores:
            if c["landing_type"] == "ASDS" and c["landpad"]:
                asds = next(k for k, v in LANDPADS.items() if v == c["landpad"])
                ships += [SHIPS[asds], SHIPS[r.choice(["Elsbeth III", "Hollywood", "NRC Quest"])]]
        if capsule:
            ships.append(SHIPS[r.choice(["GO Searcher", "GO Navigator", "Megan", "Shannon"])])
        if ln.kind in ("crs", "crew"):
            fairings = None
        elif ln.upcoming:
            fairings = {"reused": None, "recovery_attempt": None, "recovered": None, "ships": []}
        else:
            attempt = ln.when >= utc(2017, 3, 1) and r.random() < (0.4 if ln.when.year < 2019 else 0.8)
            recovered = attempt and r.random() < (0.2 if ln.when.year < 2019 else 0.8)
            catchers = []
            if attempt:
                catchers = ["GO Ms Tree", "GO Ms Chief"] if ln.when < utc(2021, 5, 1) else ["Bob", "Doug"]
                catchers = [SHIPS[c] for c in catchers[: r.randint(1, 2)]]
            reused = ln.when >= utc(2019, 11, 1) and r.random() < (0.9 if ln.kind == "starlink" else 0.4)
            fairings = {
                "reused": reused,
                "recovery_attempt": attempt,
                "recovered": recovered if attempt else False,
                "ships": catchers,
            }
            ships += [c for c in catchers if c not in ships]
        ships = list(dict.fromkeys(ships))
        n_payloads = 1
        if ln.kind == "rideshare":
            n_payloads = r.randint(8, 14)
        elif ln.kind in ("comsat", "gov") and r.random() < 0.15:
            n_payloads = 2
        payloads = [payload_ids.new(created) for _ in range(n_payloads)]
        static_fire = None
        if (
            not ln.upcoming
            and ln.kind != "f1"
            and (
                (ln.kind != "starlink" and r.random() < (0.85 if ln.when.year < 2020 else 0.35))
                or (ln.kind == "starlink" and ln.when < utc(2020, 3, 1))
            )
        ):
            static_fire = (ln.when - timedelta(days=r.randint(2, 9), hours=r.randint(0, 12))).replace(minute=0)
        if ln.kind == "f1":
            static_fire = (ln.when - timedelta(days=r.randint(6, 20))).replace(hour=0, minute=0)
        window = 0 if ln.kind == "starlink" else r.choice([0, 0, 3600, 5400, 7200, 14400, None])
        if ln.upcoming and ln.precision != "hour":
            window = None
        success = None if ln.upcoming else ln.failure is None
        doc = {
            "fairings": fairings,
            "links": links(ln, r),
            "static_fire_date_utc": fmt_utc(static_fire) if static_fire else None,
            "static_fire_date_unix": int(static_fire.timestamp()) if static_fire else None,
            "net": False,
            "window": window,
            "rocket": ROCKETS[ln.rocket],
            "success": success,
            "failures": [ln.failure] if ln.failure else [],
            "details": details(ln, r),
            "crew": crew,
            "ships": ships,
            "capsules": capsule,
            "payloads": payloads,
            "launchpad": PAD_IDS[ln.pad],
            "flight_number": flight,
            "name": ln.name,
            "date_utc": fmt_utc(ln.when),
            "date_unix": int(ln.when.timestamp()),
            "date_local": fmt_local(ln.when, ln.pad),
            "date_precision": ln.precision,
            "upcoming": ln.upcoming,
            "cores": cores,
            "auto_update": True,
            "tbd": ln.upcoming and ln.precision in ("month", "quarter", "half"),
            "launch_library_id": None if (ln.when.year < 2012 and r.random() < 0.5) else _uuid(r),
            "id": ln.doc["id"],
        }
        docs.append(doc)
    return docs


def _uuid(r: random.Random) -> str:
    h = f"{r.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


# --- CelesTrak SATCAT ----------------------------------------------------------------------------


def satcat_records(launches: list[SLaunch]) -> list[dict[str, Any]]:
    out = []
    last = max(launches, key=lambda x: x.when)
    for ln in launches:
        for s in ln.sats:
            r = rng("satcat-sat", s.norad)
            decayed = s.decay is not None and s.decay <= SATCAT_DAY
            phase, peri, apo = state_at(s, SATCAT_DAY, r)
            if decayed:
                status, orbit_type = "D", "IMP"
            else:
                orbit_type = "ORB"
                if (phase == "descending" and s.fate in ("early", "failed")) or r.random() < 0.015:
                    status = "-"
                elif phase == "descending" or phase == "raising":
                    status = "+"
                else:
                    status = r.choices(["+", "?", "P", "B", "S", "X"], [955, 10, 9, 6, 5, 4])[0]
            el = orbit(peri, apo)
            no_elements = ln is last
            data_status = "NIE" if no_elements else ("NCE" if not decayed and r.random() < 0.003 else None)
            out.append(
                {
                    "OBJECT_NAME": s.name,
                    "OBJECT_ID": s.object_id,
                    "NORAD_CAT_ID": s.norad,
                    "OBJECT_TYPE": "PAY",
                    "OPS_STATUS_CODE": status,
                    "OWNER": "US",
                    "LAUNCH_DATE": s.launch_day.isoformat(),
                    "LAUNCH_SITE": ln.site,
                    "DECAY_DATE": s.decay.isoformat() if decayed else None,
                    "PERIOD": None if no_elements else round(el["period_min"], 2),
                    "INCLINATION": None if no_elements else round(s.inclination + r.gauss(0, 0.015), 2),
                    "APOGEE": None if no_elements else round(el["a"] * (1 + el["e"]) - RE),
                    "PERIGEE": None if no_elements else round(el["a"] * (1 - el["e"]) - RE),
                    "RCS": None,
                    "DATA_STATUS_CODE": data_status,
                    "ORBIT_CENTER": "EA",
                    "ORBIT_TYPE": orbit_type,
                }
            )
    return sorted(out, key=lambda x: x["NORAD_CAT_ID"])


# --- checks, output, summary ---------------------------------------------------------------------


def validate(launch_json: list[dict], starlink_json: list[dict], satcat: list[dict], sl: list[SLaunch]) -> None:
    launch_by_id = {d["id"]: d for d in launch_json}
    assert len(launch_by_id) == len(launch_json), "duplicate launch ids"
    assert [d["flight_number"] for d in launch_json] == list(range(1, len(launch_json) + 1))
    assert len({d["name"] for d in launch_json}) == len(launch_json), "duplicate launch names"
    all_ids = [d["id"] for d in launch_json] + [d["id"] for d in starlink_json]
    assert len(set(all_ids)) == len(all_ids), "duplicate ids"
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in all_ids)
    cospars = [ln.cospar for ln in sl]
    assert len(set(cospars)) == len(cospars), "COSPAR launch number reused"
    prev_norad, prev_when = 0, None
    for ln in sorted(sl, key=lambda x: x.when):
        norads = [s.norad for s in ln.sats]
        assert min(norads) > prev_norad, f"NORAD numbers do not rise at {ln.cospar}"
        assert prev_when is None or ln.when >= prev_when
        prev_norad, prev_when = max(norads), ln.when
    for d in starlink_json:
        t = d["spaceTrack"]
        if d["launch"] is not None:
            ld = launch_by_id[d["launch"]]
            assert ld["date_utc"][:10] == t["LAUNCH_DATE"], t["OBJECT_NAME"]
        for line in (t["TLE_LINE1"], t["TLE_LINE2"]):
            assert len(line) == 69 and int(line[-1]) == tle_checksum(line[:-1]), line
            assert int(line[2:7]) == t["NORAD_CAT_ID"]
        assert (t["DECAY_DATE"] is None) == (t["DECAYED"] == 0) == (d["height_km"] is not None)
        created = datetime.fromisoformat(t["CREATION_DATE"]).replace(tzinfo=UTC)
        epoch = datetime.fromisoformat(t["EPOCH"]).replace(tzinfo=UTC)
        assert epoch <= created <= API_FREEZE, t["OBJECT_NAME"]
        assert (" " in t["EPOCH"]) == (" " in t["CREATION_DATE"])
    by_norad = {rec["NORAD_CAT_ID"]: rec for rec in satcat}
    assert len(by_norad) == len(satcat), "duplicate NORAD ids in SATCAT"
    assert len({rec["OBJECT_ID"] for rec in satcat}) == len(satcat), "duplicate COSPAR ids in SATCAT"
    for d in starlink_json:
        t = d["spaceTrack"]
        rec = by_norad[t["NORAD_CAT_ID"]]
        for a, b in (
            ("OBJECT_NAME", "OBJECT_NAME"),
            ("OBJECT_ID", "OBJECT_ID"),
            ("LAUNCH_DATE", "LAUNCH_DATE"),
            ("SITE", "LAUNCH_SITE"),
        ):
            assert t[a] == rec[b], (t[a], rec[b])
        if t["DECAY_DATE"]:
            assert rec["DECAY_DATE"] == t["DECAY_DATE"]
        else:
            assert rec["DECAY_DATE"] is None or rec["DECAY_DATE"] > API_FREEZE.date().isoformat()
    for rec in satcat:
        assert (rec["DECAY_DATE"] is None) == (rec["OPS_STATUS_CODE"] != "D") == (rec["ORBIT_TYPE"] == "ORB")
        assert rec["DECAY_DATE"] is None or rec["DECAY_DATE"] >= rec["LAUNCH_DATE"]
        assert rec["OBJECT_ID"].startswith(rec["LAUNCH_DATE"][:4] + "-")


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a fixed header (no name, mtime 0, OS unknown), so the bytes depend only on ``data``."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS, 9)
    body = comp.compress(data) + comp.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x02\xff"
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)


def js_number(v: int | float) -> str:
    """A number as Node's JSON.stringify writes it (the SpaceX API is a Node service):
    ``0`` not ``0.0``, ``0.000010578`` not ``1.0578e-05``, exponents only below 1e-6."""
    if isinstance(v, int):
        return str(v)
    if v.is_integer() and abs(v) < 1e21:
        return str(int(v))
    text = repr(v)
    if "e" in text:
        if abs(v) >= 1e-6:
            return format(Decimal(text), "f")
        mant, exp = text.split("e")
        return f"{mant}e{int(exp):+d}"
    return text


def js_json(value: Any) -> str:
    """Compact JSON like the SpaceX API's responses (keys in insertion order, no spaces)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return js_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(js_json(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{js_json(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def build() -> tuple[dict[str, bytes], dict[str, Any]]:
    api_sl = api_era_starlink()
    post_sl = post_freeze_starlink()
    all_sl = sorted(api_sl + post_sl, key=lambda x: x.when)
    number_launches(all_sl)
    assign_fates(all_sl)
    manifest = launch_manifest(api_sl)
    launches = launch_docs(manifest)
    starlink = starlink_docs(api_sl)
    satcat = satcat_records(all_sl)
    validate(launches, starlink, satcat, all_sl)
    files = {
        "spacex_launches.json.gz": gzip_bytes(js_json(launches).encode("utf-8")),
        "spacex_starlink.json.gz": gzip_bytes(js_json(starlink).encode("utf-8")),
        "celestrak_satcat.json.gz": gzip_bytes(dumps(satcat)),
    }
    return files, {"launches": launches, "starlink": starlink, "satcat": satcat}


def _in_orbit(rows: list[tuple[str, str | None]], day: str) -> int:
    return sum(1 for launched, decayed in rows if launched <= day and (decayed is None or decayed > day))


def summary(data: dict[str, Any], files: dict[str, bytes]) -> str:
    launches, starlink, satcat = data["launches"], data["starlink"], data["satcat"]
    carrying = {d["launch"] for d in starlink if d["launch"]}
    api_launch_years = Counter(
        d["date_utc"][:4]
        for d in launches
        if not d["upcoming"] and (d["id"] in carrying or d["name"].lower().startswith("starlink"))
    )
    api_sat_years = Counter(d["spaceTrack"]["LAUNCH_DATE"][:4] for d in starlink)
    api_rows = [(d["spaceTrack"]["LAUNCH_DATE"], d["spaceTrack"]["DECAY_DATE"]) for d in starlink]
    cat_launch_years = Counter(y for y, _ in {(r["LAUNCH_DATE"][:4], r["OBJECT_ID"][:8]) for r in satcat})
    cat_sat_years = Counter(r["LAUNCH_DATE"][:4] for r in satcat)
    cat_decay_years = Counter(r["DECAY_DATE"][:4] for r in satcat if r["DECAY_DATE"])
    cat_rows = [(r["LAUNCH_DATE"], r["DECAY_DATE"]) for r in satcat]
    lines = [
        f"SpaceX API: {len(launches)} launches ({sum(not d['upcoming'] for d in launches)} past, "
        f"{sum(d['upcoming'] for d in launches)} upcoming, "
        f"{sum(d['success'] is False for d in launches)} failed); "
        f"{len(starlink)} starlink documents ({sum(d['launch'] is None for d in starlink)} with launch null, "
        f"{sum(' ' in d['spaceTrack']['EPOCH'] for d in starlink)} with 'YYYY-MM-DD HH:MM:SS' dates)",
        f"CelesTrak SATCAT: {len(satcat)} records, status codes "
        + ", ".join(f"{k}:{v}" for k, v in sorted(Counter(r["OPS_STATUS_CODE"] for r in satcat).items())),
        "",
        "API launches = past launches named Starlink* or referenced by a starlink document "
        "(a rideshare whose satellites have launch null is not seen); SATCAT launches = COSPAR launches.",
        "year | API launches | API sats | API in orbit 31 Dec | SATCAT launches | SATCAT sats "
        "| SATCAT decays | SATCAT in orbit 31 Dec (2026: 20 Nov)",
    ]
    for y in range(2019, 2027):
        ys = str(y)
        end = f"{y}-12-31" if y < 2026 else SATCAT_DAY.isoformat()
        api_orbit = _in_orbit(api_rows, f"{y}-12-31") if y <= 2022 else "-"
        lines.append(
            f"{y} | {api_launch_years.get(ys, 0):>4} | {api_sat_years.get(ys, 0):>5} | {api_orbit:>5} | "
            f"{cat_launch_years.get(ys, 0):>4} | {cat_sat_years.get(ys, 0):>5} | "
            f"{cat_decay_years.get(ys, 0):>5} | "
            f"{_in_orbit(cat_rows, end):>5}"
        )
    lines.append("")
    lines += [f"{name}: {len(blob):,} bytes" for name, blob in files.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files on disk; write nothing")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder (default: the package's sample_data/)")
    args = parser.parse_args(argv)
    files, data = build()
    if args.check:
        stale = [n for n, b in files.items() if not (args.out / n).exists() or (args.out / n).read_bytes() != b]
        if stale:
            print(f"out of date: {', '.join(stale)}; run {Path(__file__).name} to regenerate", file=sys.stderr)
            return 1
        print("sample data is up to date")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, blob in files.items():
        (args.out / name).write_bytes(blob)
    print(summary(data, files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
