"""CelesTrak's satellite catalogue (SATCAT): every Starlink object, current to the day.

``GET <CELESTRAK_URL>/satcat/records.php?NAME=STARLINK&FORMAT=JSON`` (or CSV) returns one record
per catalogued object whose name contains STARLINK, decayed ones included; the format is
documented at https://celestrak.org/satcat/satcat-format.php. The body is kept as sent; selecting
the Starlink payloads happens in to-csv, where what is left out is counted.
"""

from __future__ import annotations

import csv
import html
import io
import re
from typing import Any

from ..errors import SourceResponseError
from ..http_client import HttpClient
from ..log import event, get_logger
from .snapshot import Snapshot, json_documents

log = get_logger("extract")
QUERY = {"NAME": "STARLINK"}
# The fields of a SATCAT record, in the order of the format page and of its CSV header.
FIELDS = (
    "OBJECT_NAME", "OBJECT_ID", "NORAD_CAT_ID", "OBJECT_TYPE", "OPS_STATUS_CODE", "OWNER", "LAUNCH_DATE",
    "LAUNCH_SITE", "DECAY_DATE", "PERIOD", "INCLINATION", "APOGEE", "PERIGEE", "RCS", "DATA_STATUS_CODE",
    "ORBIT_CENTER", "ORBIT_TYPE",
)  # fmt: skip


def parse(body: bytes, fmt: str, what: str) -> list[dict[str, Any]]:
    """SATCAT records from a JSON or CSV body; a body that is neither fails naming the problem."""
    text = body.decode("utf-8-sig", errors="replace").strip()
    if text.startswith("No SATCAT records found"):
        return []
    if text[:1] == "<":
        raise SourceResponseError(
            f"{what}: not valid {fmt.upper()}: the answer is an HTML page ({html_title(text)}); CelesTrak "
            "sends one when it rate-limits or blocks a client. Nothing was written; try again later"
        )
    if fmt == "json":
        records = json_documents(text, what, SourceResponseError)
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "NORAD_CAT_ID" not in reader.fieldnames:
            raise SourceResponseError(f"{what}: the CSV has no NORAD_CAT_ID column (header {reader.fieldnames})")
        records = [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
    for i, record in enumerate(records):
        if not isinstance(record, dict) or "NORAD_CAT_ID" not in record:
            raise SourceResponseError(f"{what}: record {i} is not an object with NORAD_CAT_ID")
    return records


def html_title(page: str) -> str:
    """The page's title (or its first words), to name it in an error."""
    found = re.search(r"<title[^>]*>(.*?)</title>", page, re.IGNORECASE | re.DOTALL)
    words = found.group(1) if found else re.sub(r"<[^>]*>", " ", page)
    return repr(" ".join(html.unescape(words).split())[:100])


def fetch(client: HttpClient, base_url: str, fmt: str = "json") -> Snapshot:
    url = f"{base_url}/satcat/records.php"
    params = {**QUERY, "FORMAT": fmt.upper()}
    what = f"CelesTrak SATCAT ({fmt})"
    response = client.request("GET", url, what=what, params=params)
    records = parse(response.content, fmt, what)
    event(log, "extract.page", f"satcat: {len(records)} records", dataset="satcat", records=len(records))
    return Snapshot(
        dataset="satcat",
        docs=records,
        source_url=response.url,
        total_docs=len(records),
        pages=1,
        request={"params": params},
        raw=response.content,
        raw_format=fmt,
    )
