"""CelesTrak's satellite catalogue (SATCAT): every Starlink object, current to the day.

``GET <CELESTRAK_URL>/satcat/records.php?NAME=STARLINK&FORMAT=JSON`` (or CSV) returns one record
per catalogued object whose name contains STARLINK, decayed ones included; the format is
documented at https://celestrak.org/satcat/satcat-format.php. The body is kept as sent; selecting
the Starlink payloads happens in to-csv, where what is left out is counted.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from ..errors import SourceResponseError
from ..http_client import HttpClient
from ..log import event, get_logger
from .snapshot import BLOCK, Snapshot, csv_records, json_array_items, spool

log = get_logger("extract")
HEAD = 4096  # what is read first, to recognise an answer that is not a catalogue
QUERY = {"NAME": "STARLINK"}
# The fields of a SATCAT record, in the order of the format page and of its CSV header.
FIELDS = (
    "OBJECT_NAME", "OBJECT_ID", "NORAD_CAT_ID", "OBJECT_TYPE", "OPS_STATUS_CODE", "OWNER", "LAUNCH_DATE",
    "LAUNCH_SITE", "DECAY_DATE", "PERIOD", "INCLINATION", "APOGEE", "PERIGEE", "RCS", "DATA_STATUS_CODE",
    "ORBIT_CENTER", "ORBIT_TYPE",
)  # fmt: skip


def records(stream: IO[bytes], fmt: str, what: str, error: type[Exception] = SourceResponseError) -> Iterator[dict]:
    """SATCAT records from a JSON or CSV body, one at a time; a body that is neither fails naming the
    problem (``error``)."""
    head = stream.read(HEAD)
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    if text.startswith("No SATCAT records found"):
        return
    if text[:1] == "<":
        raise error(
            f"{what}: not valid {fmt.upper()}: the answer is an HTML page ({html_title(text)}); CelesTrak "
            "sends one when it rate-limits or blocks a client. Nothing was written; try again later"
        )
    body = io.BufferedReader(_Prefixed(head, stream), BLOCK)
    if fmt != "json":
        yield from csv_records(body, what, error, required="NORAD_CAT_ID")
        return
    for i, record in enumerate(json_array_items(body, what, error)):
        if not isinstance(record, dict) or "NORAD_CAT_ID" not in record:
            raise error(f"{what}: record {i} is not an object with NORAD_CAT_ID")
        yield record


class _Prefixed(io.RawIOBase):
    """``head`` (already read from ``rest``), then the rest of ``rest``."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def html_title(page: str) -> str:
    """The page's title (or its first words), to name it in an error."""
    found = re.search(r"<title[^>]*>(.*?)</title>", page, re.IGNORECASE | re.DOTALL)
    words = found.group(1) if found else re.sub(r"<[^>]*>", " ", page)
    return repr(" ".join(html.unescape(words).split())[:100])


def fetch(client: HttpClient, base_url: str, fmt: str = "json") -> Snapshot:
    """The SATCAT's Starlink records, the body spooled as sent and read once to check and count them."""
    url = f"{base_url}/satcat/records.php"
    params = {**QUERY, "FORMAT": fmt.upper()}
    what = f"CelesTrak SATCAT ({fmt})"
    body = spool()
    try:
        response = client.request("GET", url, what=what, params=params, into=body)
        body.seek(0)
        count = sum(1 for _ in records(body, fmt, what))
    except BaseException:
        body.close()
        raise
    event(log, "extract.page", f"satcat: {count} records", dataset="satcat", records=count)
    return Snapshot(
        dataset="satcat",
        body=body,
        records=count,
        source_url=response.url,
        total_docs=count,
        pages=1,
        request={"params": params},
        raw_format=fmt,
    )
