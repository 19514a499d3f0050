"""The data lake: a local folder or an S3 bucket (MinIO in the cluster), behind one interface.

No reader ever sees a half-written object: on disk every write goes to a temporary file in the
same folder and is renamed into place (atomic on POSIX); on S3 an object only becomes visible
when its upload completes. A process killed mid-write (SIGKILL, OOM, a node lost) leaves its
temporary file behind; the next write into that folder sweeps it (``_sweep_stale``): the file
names its writer's host and pid, and it goes once that process is gone or after a day.
Each dataset partition is committed by its ``_manifest.json``, written last, which records the data
object's sha256 so that a reader can verify what it read.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote, urlparse

from .errors import ConfigError, LakeError

MANIFEST = "_manifest.json"
# A temporary file whose writer cannot be checked (another host) is stale after this long.
STALE_TMP_SECONDS = 24 * 3600
_HOST = socket.gethostname().replace(".", "_").replace("/", "_") or "host"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


# Zone layout. <source> is `spacex` or `celestrak`.
def raw_key(source: str, dataset: str, ds: str, fmt: str = "json") -> str:
    """The source's answer as sent: JSON, or CSV for a SATCAT extract asked in CSV."""
    return f"raw/{source}/{dataset}/ds={ds}/{dataset}.{fmt}"


def curated_key(source: str, dataset: str, ds: str) -> str:
    return f"curated/{source}/{dataset}/ds={ds}/{dataset}.csv"


def rejects_key(source: str, dataset: str, ds: str) -> str:
    """The latest to-csv attempt's rejected records, one JSON object (reason, record) per line."""
    return f"rejects/{source}/{dataset}/ds={ds}/{dataset}.jsonl"


def report_prefix(ds: str) -> str:
    return f"reports/starlink/ds={ds}/"


def manifest_key(data_key: str) -> str:
    return data_key.rsplit("/", 1)[0] + "/" + MANIFEST


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Lake(Protocol):
    url: str

    def put_bytes(self, key: str, data: bytes, content_type: str = ...) -> None: ...
    def put_file(self, key: str, path: Path, content_type: str = ...) -> None: ...
    def put_stream(self, key: str, stream: IO[bytes], content_type: str = ...) -> None: ...
    def get_bytes(self, key: str) -> bytes: ...
    def open(self, key: str) -> Any: ...  # a context manager yielding a binary stream
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def uri(self, key: str) -> str: ...


class LocalLake:
    def __init__(self, root: Path):
        self.root = root
        self.url = root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise LakeError(f"lake key {key!r} escapes the lake root {self.root}")
        return path

    def _fail(self, action: str, key: str, exc: OSError) -> LakeError:
        hint = {
            errno.ENOSPC: "the lake's disk is full: free space, then rerun the step",
            errno.EDQUOT: "the lake's disk quota is exhausted: free space, then rerun the step",
            errno.EROFS: "the lake is on a read-only file system: mount it read-write, then rerun the step",
            errno.EACCES: "no permission: the lake folder must be writable by this user",
            errno.EPERM: "no permission: the lake folder must be writable by this user",
        }.get(exc.errno or 0, "the previous object, if any, is unchanged")
        return LakeError(f"cannot {action} {self.uri(key)}: {exc.strerror or exc}; {hint}")

    @contextmanager
    def _atomic(self, key: str) -> Iterator[IO[bytes]]:
        """Write to `.<name>.<host>-<pid>.<random>.tmp` beside the target, then rename it into place.
        OSErrors (a full disk, a read-only lake) become a LakeError naming the object."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _sweep_stale(path.parent)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp")
        except OSError as exc:
            raise self._fail("write", key, exc) from None
        try:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; lake files follow the umask like any other
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise self._fail("write", key, exc) from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        with self._atomic(key) as fh:
            fh.write(data)

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        with self._atomic(key) as fh, path.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 20)

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        with self._atomic(key) as fh:
            shutil.copyfileobj(stream, fh, 1 << 20)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise LakeError(f"{self.uri(key)} does not exist") from None

    @contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError:
            raise LakeError(f"{self.uri(key)} does not exist") from None
        with fh:
            yield fh

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise self._fail("delete", key, exc) from None

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix
        start = base if base.is_dir() else base.parent
        if not start.is_dir():
            return []
        keys = (p.relative_to(self.root).as_posix() for p in start.rglob("*") if p.is_file())
        return sorted(k for k in keys if k.startswith(prefix) and not k.rsplit("/", 1)[-1].startswith("."))

    def uri(self, key: str) -> str:
        return f"file://{self.root / key}"  # unescaped: `ds=` stays readable in messages


class S3Lake:
    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        import boto3  # only S3 lakes need it loaded
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=60,
                s3={"addressing_style": "path"},
            ),
        )

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _fail(self, action: str, key: str, exc: Exception) -> LakeError:
        return LakeError(f"cannot {action} {self.uri(key)}: {exc}")

    def put_bytes(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def put_file(self, key: str, path: Path, content_type: str = "application/octet-stream") -> None:
        try:  # multipart for large files; the object appears only when the upload completes
            self.client.upload_file(str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def put_stream(self, key: str, stream: IO[bytes], content_type: str = "application/octet-stream") -> None:
        try:  # multipart for large bodies, as upload_file
            self.client.upload_fileobj(stream, self.bucket, self._key(key), ExtraArgs={"ContentType": content_type})
        except Exception as exc:
            raise self._fail("write", key, exc) from exc

    def get_bytes(self, key: str) -> bytes:
        with self.open(key) as body:
            return body.read()

    @contextmanager
    def open(self, key: str) -> Iterator[Any]:
        from botocore.exceptions import ClientError

        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise LakeError(f"{self.uri(key)} does not exist") from None
            raise self._fail("read", key, exc) from exc
        except Exception as exc:
            raise self._fail("read", key, exc) from exc
        try:
            yield body
        finally:
            body.close()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("check", key, exc) from exc
        except Exception as exc:  # unreachable endpoint, timeouts
            raise self._fail("check", key, exc) from exc
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._fail("delete", key, exc) from exc

    def list(self, prefix: str) -> list[str]:
        full = self._key(prefix)
        strip = len(self._key(""))
        keys: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        except Exception as exc:
            raise self._fail("list", prefix, exc) from exc
        return sorted(keys)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"


def _sweep_stale(folder: Path) -> None:
    """Remove temporary files of writers that died mid-write (``owner_gone``). A live writer's file
    is never touched."""
    for tmp in folder.glob(".*.tmp"):
        owner = tmp.name[: -len(".tmp")].rsplit(".", 2)
        try:
            if owner_gone(owner[-2] if len(owner) == 3 else "", tmp):
                tmp.unlink()
        except FileNotFoundError:  # another writer swept it first
            continue


def owner_gone(owner: str, path: Path) -> bool:
    """Whether the process ``owner`` (``<host>-<pid>``, as a temporary name records it) that left
    ``path`` is gone: this host's whose pid has ended; another host's (or a name without an owner)
    once the path is older than STALE_TMP_SECONDS."""
    host, _, pid = owner.rpartition("-")
    if host == _HOST and pid.isdigit():
        return not _alive(int(pid))
    return time.time() - path.stat().st_mtime >= STALE_TMP_SECONDS


def owner_tag() -> str:
    """This process as ``owner_gone`` reads it back."""
    return f"{_HOST}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def open_lake(url: str, s3_endpoint_url: str | None = None) -> LocalLake | S3Lake:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ConfigError(f"LAKE_URL={url!r}: a file URL needs an absolute path (file:///abs/path)")
        root = Path(unquote(parsed.path))
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LakeError(f"cannot create the lake folder {root}: {exc.strerror or exc}") from None
        return LocalLake(root)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"LAKE_URL={url!r} names no bucket (s3://bucket/prefix)")
        return S3Lake(parsed.netloc, parsed.path, s3_endpoint_url)
    raise ConfigError(f"LAKE_URL={url!r}: use file:///abs/path or s3://bucket/prefix")


# --- committed partitions: data object + manifest ---------------------------------------------


def write_partition(
    lake: Lake, data_key: str, data: bytes | Path | IO[bytes], manifest: dict[str, Any], content_type: str
) -> dict[str, Any]:
    """Replace one partition: drop the old manifest, write the data, then commit the new manifest.
    ``data``: bytes, a file, or a seekable binary stream (read from its start, twice).

    Between the first and the last step readers see no manifest and refuse to read, rather than
    reading a data object that belongs to another manifest.
    """
    if isinstance(data, Path):
        digest, size = sha256_file(data), data.stat().st_size
    elif isinstance(data, bytes):
        digest, size = hashlib.sha256(data).hexdigest(), len(data)
    else:
        data.seek(0)
        hashed = hashlib.sha256()
        for block in iter(lambda: data.read(1 << 20), b""):
            hashed.update(block)
        digest, size = hashed.hexdigest(), data.tell()
        data.seek(0)
    manifest = {**manifest, "object": data_key.rsplit("/", 1)[-1], "sha256": digest, "bytes": size}
    lake.delete(manifest_key(data_key))
    folder = data_key.rsplit("/", 1)[0] + "/"
    for stale in lake.list(folder):  # e.g. a JSON body left by an earlier run that fetched CSV
        if stale != data_key and "/" not in stale[len(folder) :]:
            lake.delete(stale)
    if isinstance(data, Path):
        lake.put_file(data_key, data, content_type)
    elif isinstance(data, bytes):
        lake.put_bytes(data_key, data, content_type)
    else:
        lake.put_stream(data_key, data, content_type)
    body = json.dumps(manifest, indent=2, sort_keys=True).encode()
    lake.put_bytes(manifest_key(data_key), body, "application/json")
    return manifest


def read_manifest(lake: Lake, data_key: str, step_hint: str) -> dict[str, Any]:
    key = manifest_key(data_key)
    if not lake.exists(key):
        raise LakeError(f"{lake.uri(key)} does not exist: run `{step_hint}` for this ds first")
    try:
        return json.loads(lake.get_bytes(key))
    except json.JSONDecodeError as exc:
        raise LakeError(f"{lake.uri(key)} is not valid JSON: {exc}") from None


class VerifiedReader(io.RawIOBase):
    """A lake object as a stream, checked against its manifest's sha256 once read to its end
    (``check()``): a reader streams it, rather than holding it, and still never trusts a rewritten
    or corrupted object."""

    def __init__(self, stream: IO[bytes], uri: str, manifest: dict[str, Any]):
        self._stream, self._uri, self._manifest = stream, uri, manifest
        self._digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        self._digest.update(data)
        return len(data)

    def check(self) -> None:
        while self.read(1 << 20):  # whatever the reader left unread counts too
            pass
        if self._digest.hexdigest() != self._manifest["sha256"]:
            raise LakeError(
                f"{self._uri} does not match its manifest's sha256 (rewritten while reading, "
                "or corrupted); run the step that writes it again"
            )


@contextmanager
def open_verified(lake: Lake, data_key: str, manifest: dict[str, Any]) -> Iterator[tuple[IO[bytes], VerifiedReader]]:
    """``(stream, verifier)``: read the object from ``stream``, then ``verifier.check()``."""
    with lake.open(data_key) as raw:
        verifier = VerifiedReader(raw, lake.uri(data_key), manifest)
        yield io.BufferedReader(verifier, 1 << 20), verifier
