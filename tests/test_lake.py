"""The lake on a local folder and on a real S3 API server (moto) on loopback, through one interface."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from starlink42k import lake as lakes
from starlink42k.errors import ConfigError, LakeError


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path: Path):
    if request.param == "local":
        return lakes.open_lake((tmp_path / "lake").as_uri())
    bucket = request.getfixturevalue("s3_bucket")
    return lakes.open_lake(f"s3://{bucket}/some/prefix", request.getfixturevalue("s3_endpoint"))


def test_partition_roundtrip(lake):
    key = lakes.raw_key("spacex", "starlink", "2024-01-31")
    assert key == "raw/spacex/starlink/ds=2024-01-31/starlink.json"
    manifest = lakes.write_partition(lake, key, b'[{"id":"a"}]', {"record_count": 1}, "application/json")
    read = lakes.read_manifest(lake, key, "extract")
    assert read == manifest and read["record_count"] == 1 and read["bytes"] == 12
    with lakes.open_verified(lake, key, read) as (stream, verifier):
        assert stream.read(5) == b'[{"id'  # read in parts, checked once at the end
        assert stream.read() == b'":"a"}]'
        verifier.check()
    assert lake.list("raw/spacex/starlink/") == [
        "raw/spacex/starlink/ds=2024-01-31/_manifest.json",
        "raw/spacex/starlink/ds=2024-01-31/starlink.json",
    ]


def test_rerun_replaces_only_that_ds(lake, tmp_path: Path):
    a, b = (lakes.curated_key("spacex", "launches", ds) for ds in ("2024-01-30", "2024-01-31"))
    lakes.write_partition(lake, a, b"id\n1\n", {"rows": 1}, "text/csv")
    lakes.write_partition(lake, b, b"id\n2\n", {"rows": 1}, "text/csv")
    csv = tmp_path / "big.csv"
    csv.write_bytes(b"id\n3\n4\n")
    lakes.write_partition(lake, b, csv, {"rows": 2}, "text/csv")
    assert lake.get_bytes(a) == b"id\n1\n"
    assert lake.get_bytes(b) == b"id\n3\n4\n"
    assert lakes.read_manifest(lake, b, "to-csv")["rows"] == 2
    stream = io.BytesIO(b"id\n5\n")
    stream.seek(3)  # a stream is written from its start
    manifest = lakes.write_partition(lake, b, stream, {"rows": 1}, "text/csv")
    assert lake.get_bytes(b) == b"id\n5\n" and manifest["bytes"] == 5
    assert manifest["sha256"] == hashlib.sha256(b"id\n5\n").hexdigest()


def test_a_failed_write_keeps_the_old_object(lake, tmp_path: Path):
    key = "curated/spacex/launches/ds=2024-01-31/launches.csv"
    lake.put_bytes(key, b"old")
    with pytest.raises((LakeError, FileNotFoundError)):
        lake.put_file(key, tmp_path / "does-not-exist.csv")
    assert lake.get_bytes(key) == b"old"


def test_missing_objects_and_manifests_fail_clearly(lake):
    key = lakes.raw_key("spacex", "launches", "2030-01-01")
    with pytest.raises(LakeError, match=r"_manifest.json does not exist: run `starlink42k extract"):
        lakes.read_manifest(lake, key, "starlink42k extract launches --ds 2030-01-01")
    with pytest.raises(LakeError, match=r"does not exist"):
        lake.get_bytes(key)
    assert not lake.exists(key)


def test_a_changed_object_is_detected(lake):
    key = lakes.raw_key("spacex", "launches", "2024-01-31")
    manifest = lakes.write_partition(lake, key, b"[1]", {}, "application/json")
    lake.put_bytes(key, b"[2]")
    with (
        lakes.open_verified(lake, key, manifest) as (_, verifier),
        pytest.raises(LakeError, match=r"does not match its manifest's sha256"),
    ):
        verifier.check()  # what the reader did not read counts too


def test_local_writes_leave_no_temporary_files(tmp_path: Path):
    lake = lakes.open_lake((tmp_path / "lake").as_uri())
    lakes.write_partition(lake, "raw/x/y/ds=1/y.json", b"[]", {}, "application/json")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), lake._atomic("raw/x/y/ds=1/y.json") as fh:
        fh.write(b"half")
        raise Boom
    files = sorted(p.name for p in (tmp_path / "lake/raw/x/y/ds=1").iterdir())
    assert files == ["_manifest.json", "y.json"]
    assert json.loads((tmp_path / "lake/raw/x/y/ds=1/y.json").read_bytes()) == []


def test_local_keys_cannot_escape_the_root(tmp_path: Path):
    lake = lakes.open_lake((tmp_path / "lake").as_uri())
    with pytest.raises(LakeError, match="escapes"):
        lake.put_bytes("../outside.txt", b"x")


@pytest.mark.parametrize("url", ["lake/relative", "file://host/path", "s3://", "gs://bucket"])
def test_bad_lake_urls(url):
    with pytest.raises(ConfigError, match="LAKE_URL"):
        lakes.open_lake(url)


def test_s3_objects_land_under_the_prefix(s3_bucket, s3_endpoint):
    import boto3

    lake = lakes.open_lake(f"s3://{s3_bucket}/team/lake", s3_endpoint)
    lake.put_bytes("raw/a.json", b"{}")
    keys = [
        o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]
    ]
    assert keys == ["team/lake/raw/a.json"]
    assert lake.uri("raw/a.json") == f"s3://{s3_bucket}/team/lake/raw/a.json"


def test_s3_errors_name_the_object(s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    lake = lakes.open_lake("s3://no-such-bucket/p", s3_endpoint)
    with pytest.raises(LakeError, match=r"cannot write s3://no-such-bucket/p/raw/a.json"):
        lake.put_bytes("raw/a.json", b"{}")
