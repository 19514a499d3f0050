"""Bodies read one document at a time (sources/snapshot.py): the same documents as json.loads, across
every block boundary, and the same refusals."""

from __future__ import annotations

import io
import json

import pytest

from starlink42k.sources import snapshot
from starlink42k.sources.snapshot import csv_records, json_array_items
from support import spacex_docs as docs

ARRAYS = [
    [],
    [1, 22, 333, -4.5e-7, True, None, "x"],  # a number may end exactly where a block does
    [{"a": "é ü 漢字 \u2028", "b": [1, {"c": None}]}, {"s": 'quote " and \\ backslash'}],
    [docs.starlink(44000 + i, f"2020-001{chr(65 + i)}", "2020-01-07", launch_id="L") for i in range(5)],
]


def items(body: bytes, block: int, monkeypatch: pytest.MonkeyPatch) -> list:
    monkeypatch.setattr(snapshot, "BLOCK", block)
    return list(json_array_items(io.BytesIO(body), "test body", ValueError))


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64, 1 << 20])
@pytest.mark.parametrize("array", ARRAYS)
def test_every_block_boundary_gives_the_same_documents(array, block, monkeypatch):
    compact = json.dumps(array, ensure_ascii=False).encode()
    spaced = b"\xef\xbb\xbf \n" + json.dumps(array, indent=2, ensure_ascii=False).encode() + b"\r\n"  # BOM
    assert items(compact, block, monkeypatch) == array
    assert items(spaced, block, monkeypatch) == array


@pytest.mark.parametrize("block", [3, 1 << 20])
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", r"is not valid JSON; it starts ''"),
        (b"<html>", r"is not valid JSON; it starts '<html>'"),
        (b'{"error": "x"}', r"expected a JSON array of documents, got dict"),
        (b"[1, 2", r"is not valid JSON \(expected ',' or '\]' after document 2\)"),
        (b'[{"a": 1}, {"a": ]', r"is not valid JSON \(Expecting value in document 2\)"),
        (b'[{"a": "unterminated}]', r"is not valid JSON \(Unterminated string"),
        (b"[1,]", r"is not valid JSON \(Expecting value in document 2\)"),
        (b"[1] [2]", r"more data after the array"),
        (b"[" * 100_000 + b"]" * 100_000, r"nests deeper than any document does"),
    ],
)
def test_what_is_not_an_array_of_documents_is_refused(body, problem, block, monkeypatch):
    with pytest.raises(ValueError, match=problem):
        items(body, block, monkeypatch)


def test_a_bad_document_is_refused_without_reading_the_rest(monkeypatch):
    monkeypatch.setattr(snapshot, "BLOCK", 64)
    body = io.BytesIO(b'[{"a": 1}, {"a" 2}, ' + b'{"b": 2}, ' * 100_000 + b"{}]")
    with pytest.raises(ValueError, match=r"Expecting ':' delimiter in document 2"):
        list(json_array_items(body, "test body", ValueError))
    assert body.tell() < 1024


def test_csv_records_are_dicts_with_nulls_and_a_required_column():
    body = b"\xef\xbb\xbfNORAD_CAT_ID,DECAY_DATE\r\n44001,2020-10-13\r\n44002,\r\n"
    assert list(csv_records(io.BytesIO(body), required="NORAD_CAT_ID")) == [
        {"NORAD_CAT_ID": "44001", "DECAY_DATE": "2020-10-13"},
        {"NORAD_CAT_ID": "44002", "DECAY_DATE": None},
    ]
    with pytest.raises(ValueError, match=r"test: the CSV has no NORAD_CAT_ID column"):
        list(csv_records(io.BytesIO(b"NAME,ID\nx,y\n"), "test", ValueError, required="NORAD_CAT_ID"))
