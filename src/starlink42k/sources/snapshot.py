"""What an extract returns, and how its body is read: one document at a time, never all at once.

A snapshot's body is the object the lake keeps (a JSON array, or the SATCAT as CelesTrak sent it),
spooled to an anonymous temporary file as it arrives: a catalogue of any size costs a few blocks of
memory, and the file vanishes with the process, even a killed one.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

BLOCK = 1 << 20
SPOOL_IN_MEMORY = 8 << 20  # bodies up to this size stay in memory, larger ones go to a temporary file


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def spool() -> IO[bytes]:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, prefix="starlink42k-")


@dataclass
class Snapshot:
    dataset: str
    body: IO[bytes]  # the raw object as the lake keeps it, spooled (spool())
    records: int
    source_url: str
    total_docs: int
    pages: int
    request: dict[str, Any] = field(default_factory=dict)
    fetched_at: str = field(default_factory=utc_now_iso)
    raw_format: str = "json"  # of the body: json, or csv for a SATCAT extract asked in CSV

    def read(self) -> bytes:
        """The whole body (small snapshots, tests)."""
        self.body.seek(0)
        return self.body.read()

    def documents(self) -> Iterator[Any]:
        self.body.seek(0)
        if self.raw_format == "csv":
            return csv_records(self.body)
        return json_array_items(self.body, f"{self.dataset} snapshot", ValueError)

    def close(self) -> None:
        self.body.close()


def json_array_items(stream: IO[bytes], what: str, error: type[Exception]) -> Iterator[Any]:
    """The items of the JSON array ``stream`` holds, one at a time: memory holds a block of the stream
    and one item, never the array. Anything else (not JSON, not an array, nested deeper than any
    document) raises ``error`` naming ``what`` and the problem. UTF-8, with or without a BOM; bytes
    that are not UTF-8 become U+FFFD."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    buf, pos, eof, index = "", 0, False, 0

    def more() -> bool:
        """Append a block of the stream to what is left of the buffer; False once it is all read."""
        nonlocal buf, pos, eof
        if eof:
            return False
        data = stream.read(BLOCK)
        eof = not data
        buf = buf[pos:] + utf8.decode(data, final=eof)
        pos = 0
        return True

    def peek() -> str:
        """The next character that is not white space ("" at the end), left unread."""
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or not more():
                return buf[pos : pos + 1]

    def item() -> Any:
        nonlocal pos
        peek()
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
                # A number that ends the buffer, or is followed by what may continue it (".", "e+"),
                # may go on in the next block.
                if eof or len(buf) - end > 2 or buf[end : end + 1] in (" ", "\t", "\r", "\n", ",", "]"):
                    pos = end
                    return value
            except json.JSONDecodeError as exc:
                cut_short = exc.pos >= len(buf) - 16 or exc.msg.startswith("Unterminated string")
                if eof or not cut_short:
                    raise error(f"{what} is not valid JSON ({exc.msg} in document {index + 1})") from None
            except RecursionError:
                raise error(f"{what} nests deeper than any document does; refused as malformed") from None
            more()

    first = peek()
    if first != "[":
        kinds = {"{": "dict", '"': "str", "t": "bool", "f": "bool", "n": "NoneType"}
        kind = kinds.get(first) or ("a number" if first and first in "-0123456789" else None)
        if kind is None:
            while len(buf) - pos < 80 and more():
                pass
            raise error(f"{what} is not valid JSON; it starts {buf[pos : pos + 80]!r}")
        raise error(f"{what}: expected a JSON array of documents, got {kind}")
    pos += 1
    if peek() == "]":
        pos += 1
    else:
        while True:
            yield item()
            index += 1
            after = peek()
            pos += 1
            if after == "]":
                break
            if after != ",":
                raise error(f"{what} is not valid JSON (expected ',' or ']' after document {index})")
    if peek():
        raise error(f"{what} is not valid JSON (more data after the array)")


def csv_records(
    stream: IO[bytes], what: str = "CSV", error: type[Exception] = ValueError, required: str | None = None
) -> Iterator[dict[str, Any]]:
    """The rows of a CSV with a header, one at a time, as dicts; an empty field is None. A header
    without the ``required`` column raises ``error``."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="replace", newline="")
    try:
        reader = csv.DictReader(text)
        if required and (not reader.fieldnames or required not in reader.fieldnames):
            raise error(f"{what}: the CSV has no {required} column (header {reader.fieldnames})")
        for row in reader:
            yield {k: (v if v != "" else None) for k, v in row.items()}
    finally:
        text.detach()  # the caller's stream stays open
