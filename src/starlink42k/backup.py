"""Backups of a local lake and the warehouse, and their restore (``starlink42k backup`` / ``restore``).

A backup is one folder, ``$DATA_DIR/backups/<UTC time>/`` (``--to`` another folder of backups):

    lake/...          every file of the lake folder
    warehouse.dump    ``pg_dump -Fc`` of the warehouse database
    manifest.json     what, when, from where, and each file's size and sha256; written last

It is built in a hidden ``.<name>.partial`` folder and renamed into place when complete, so a folder
with a manifest is a whole backup. Lake files unchanged since the previous backup (same size and
modification time; lake writes always replace a file, never edit it) are hard links to that
backup's copy, so a backup costs only what changed. Backup files are read-only. The copy is
checked against the lake's partition manifests: a partition rewritten while it was copied is
copied again. ``BACKUP_KEEP`` newest backups are kept, older ones deleted.

A restore verifies every file of the backup against its manifest before it changes anything,
copies the lake beside the lake folder, replays the dump into the warehouse in one transaction
(the backup's schemas replaced whole), and only then swaps the lake folder in; a failure before
the swap leaves both as they were, and says so. It refuses a lake or warehouse that holds data
unless told to replace them (``--force``).

The lake must be a local folder (``file://``); in the cluster, where it is a MinIO bucket, the
chart's CronJobs back it up (README, Backups and restore).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from . import __version__
from . import lake as lakes
from . import warehouse as wh
from .context import Context
from .errors import ConfigError, PipelineError
from .log import event, get_logger

log = get_logger("backup")
MANIFEST = "manifest.json"
DUMP = "warehouse.dump"
FORMAT = 1
_NAME = re.compile(r"^\d{8}T\d{6}Z(-\d+)?$")
_UMASK = os.umask(0o022)
os.umask(_UMASK)
RECOPY_ATTEMPTS = 3


class BackupError(PipelineError):
    """A backup could not be made or restored; the message says what is left where."""


# --- where things are ------------------------------------------------------------------------


def lake_root(ctx: Context, action: str) -> Path:
    """The local lake folder; an S3 lake is backed up in the cluster, not here."""
    url = urlparse(ctx.settings.lake_url)
    if url.scheme != "file":
        raise ConfigError(
            f"LAKE_URL={ctx.settings.lake_url} is not a local folder: `starlink42k {action}` handles a file:// "
            "lake; in the cluster the chart's backup CronJobs copy the MinIO lake and dump the warehouse "
            "(README, Backups and restore)"
        )
    return Path(unquote(url.path))


def default_root(ctx: Context) -> Path:
    return ctx.settings.data_dir / "backups"


def complete_backups(root: Path) -> list[Path]:
    """The whole backups under ``root``, oldest first (their names sort by time)."""
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if _NAME.match(p.name) and (p / MANIFEST).is_file())


def sha256_and_size(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _copy(src: Path, dst: Path) -> tuple[str, int]:
    """Copy src to dst (through a temporary file, so a hard link at dst is replaced, never written
    through), returning the sha256 and size of what was copied."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
                size += len(block)
                out.write(block)
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return digest.hexdigest(), size


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One backup at a time per folder of backups."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"another backup is running into {root}; wait for it to finish") from None
        yield


# --- PostgreSQL's client tools -------------------------------------------------------------------


def _bundled_bin() -> Path | None:
    """pgserver's PostgreSQL binaries (the embedded warehouse's own), when it is installed."""
    try:
        import pgserver
    except ImportError:
        return None
    path = Path(pgserver.__file__).parent / "pginstall" / "bin"
    return path if path.is_dir() else None


def _major(tool: Path) -> int | None:
    try:
        out = subprocess.run([str(tool), "--version"], capture_output=True, text=True, timeout=30).stdout
    except OSError:
        return None
    match = re.search(r"\)\s*(\d+)", out) or re.search(r"(\d+)\.\d+", out)
    return int(match.group(1)) if match else None


def pg_tools(names: tuple[str, ...], minimum: int, embedded: bool) -> dict[str, Path]:
    """PostgreSQL client tools of one installation whose version is at least ``minimum`` (pg_dump
    cannot dump a newer server; pg_restore cannot read a newer pg_dump's archive). The embedded
    warehouse uses pgserver's own; otherwise the ones on PATH come first, then pgserver's."""
    bundled = _bundled_bin()
    dirs = [Path(d) for d in os.get_exec_path() if d]
    candidates = ([bundled] if bundled and embedded else []) + dirs + ([bundled] if bundled and not embedded else [])
    found: list[str] = []
    seen: set[Path] = set()
    for folder in candidates:
        tools = {name: folder / name for name in names}
        if folder in seen or not all(os.access(t, os.X_OK) for t in tools.values()):
            continue
        seen.add(folder)
        major = _major(tools[names[0]])
        if major is not None and major >= minimum:
            return tools
        found.append(f"{tools[names[0]]} (version {major})")
    have = f"found only {', '.join(found)}" if found else "found none on PATH"
    raise BackupError(
        f"{' and '.join(names)} of PostgreSQL {minimum} or later are needed, {have}: install the PostgreSQL "
        f"{minimum} client tools (Debian: apt-get install postgresql-client-{minimum}) and put them on PATH"
    )


def _libpq(warehouse: wh.Warehouse) -> tuple[str, dict[str, str]]:
    """The conninfo for the command line without the password, and the environment that carries it."""
    params = {k: v for k, v in conninfo_to_dict(warehouse.url).items() if v is not None}
    password = params.pop("password", None)
    env = {**os.environ, "PGCONNECT_TIMEOUT": "15"}
    env.pop("PGPASSWORD", None)
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**params), env


def _run(cmd: list[str], env: dict[str, str], what: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        detail = "\n".join(proc.stderr.strip().splitlines()[-6:]) or f"exit code {proc.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return proc


def _server_major(warehouse: wh.Warehouse) -> tuple[int, str]:
    with wh.session(warehouse) as conn:
        version = conn.info.server_version  # e.g. 160002
        return version // 10000, conn.execute("show server_version").fetchone()[0]


def _relations(warehouse: wh.Warehouse) -> list[str]:
    """Tables, views and sequences outside PostgreSQL's own schemas."""
    with wh.session(warehouse) as conn:
        rows = conn.execute(
            """select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
               where c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
                 and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_'
               order by 1"""
        ).fetchall()
    return [r[0] for r in rows]


# --- backup ----------------------------------------------------------------------------------------


@dataclass
class LakeFile:
    path: str  # relative to the backup folder: lake/<key>
    bytes: int
    sha256: str
    mtime_ns: int


def _copy_lake(root: Path, into: Path, previous: dict[str, dict[str, Any]]) -> tuple[list[LakeFile], int]:
    """Copy every visible file of the lake folder into ``into``; unchanged files are hard links to
    the previous backup's copy. Returns the files and how many were linked."""
    files: dict[str, LakeFile] = {}
    linked = 0
    for src in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = src.relative_to(root).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):  # a writer's temporary file
            continue
        try:
            stat = src.stat()
        except FileNotFoundError:  # replaced or removed by a writer: the partition check below decides
            continue
        key = f"lake/{rel}"
        dst = into / key
        dst.parent.mkdir(parents=True, exist_ok=True)
        before = previous.get(key)
        if before and before["bytes"] == stat.st_size and before["mtime_ns"] == stat.st_mtime_ns:
            try:
                os.link(before["source"], dst)
                files[key] = LakeFile(key, stat.st_size, before["sha256"], stat.st_mtime_ns)
                linked += 1
                continue
            except OSError:  # another file system, or a link limit: copy instead
                pass
        try:
            digest, size = _copy(src, dst)
        except FileNotFoundError:
            continue
        files[key] = LakeFile(key, size, digest, stat.st_mtime_ns)
    _recopy_torn_partitions(root, into, files)
    return sorted(files.values(), key=lambda f: f.path), linked


def _torn_partitions(files: dict[str, LakeFile], into: Path) -> list[str]:
    """Folders whose copied data object does not match the copied partition manifest."""
    torn = []
    for key in files:
        if not key.endswith("/" + lakes.MANIFEST):
            continue
        folder = key.rsplit("/", 1)[0]
        try:
            manifest = json.loads((into / key).read_bytes())
        except (OSError, json.JSONDecodeError):
            torn.append(folder)
            continue
        data = files.get(f"{folder}/{manifest.get('object')}")
        if "sha256" in manifest and (data is None or data.sha256 != manifest["sha256"]):
            torn.append(folder)
    return torn


def _recopy_torn_partitions(root: Path, into: Path, files: dict[str, LakeFile]) -> None:
    """Copy again each partition whose copy is torn (data and manifest from different writes). One
    that copies the same way twice is torn in the lake itself: it is kept as it is, with a warning."""
    damaged: set[str] = set()
    for _attempt in range(RECOPY_ATTEMPTS):
        torn = [f for f in _torn_partitions(files, into) if f not in damaged]
        if not torn:
            return
        for folder in torn:
            event(log, "backup.recopy", f"{folder[len('lake/') :]} changed while it was copied; copying it again")
            before = {k: files.pop(k).sha256 for k in [k for k in files if k.rsplit("/", 1)[0] == folder]}
            for key in before:
                (into / key).unlink(missing_ok=True)
            for src in sorted(p for p in (root / folder[len("lake/") :]).glob("*") if p.is_file()):
                if src.name.startswith("."):
                    continue
                key = f"{folder}/{src.name}"
                try:
                    mtime = src.stat().st_mtime_ns
                    digest, size = _copy(src, into / key)
                except FileNotFoundError:
                    continue
                files[key] = LakeFile(key, size, digest, mtime)
            if before == {k: f.sha256 for k, f in files.items() if k.rsplit("/", 1)[0] == folder}:
                damaged.add(folder)
                event(
                    log,
                    "backup.damaged",
                    f"{folder[len('lake/') :]}: its data does not match its manifest in the lake itself "
                    "(not a write in progress); copied as it is: rerun the step that writes it",
                    level=30,
                    partition=folder[len("lake/") :],
                )
    torn = [f for f in _torn_partitions(files, into) if f not in damaged]
    if torn:
        raise BackupError(
            f"the lake kept changing while it was copied ({', '.join(torn[:3])}): a pipeline run is writing "
            "to it; run the backup again when it has finished"
        )


def _previous_files(root: Path) -> dict[str, dict[str, Any]]:
    backups = complete_backups(root)
    if not backups:
        return {}
    last = backups[-1]
    try:
        manifest = json.loads((last / MANIFEST).read_bytes())
    except (OSError, json.JSONDecodeError):
        return {}
    return {
        f["path"]: {**f, "source": last / f["path"]}
        for f in manifest.get("files", [])
        if f["path"].startswith("lake/") and "mtime_ns" in f
    }


def _new_name(root: Path) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    name, n = stamp, 0
    while (root / name).exists() or (root / f".{name}.partial").exists():
        n += 1
        name = f"{stamp}-{n}"
    return name


def backup(ctx: Context, into: Path | None = None) -> Path:
    """Back up the lake folder and the warehouse into a new folder under ``into``; returns it."""
    root = lake_root(ctx, "backup")
    target_root = (into or default_root(ctx)).expanduser().resolve()
    if target_root == root.resolve() or root.resolve() in target_root.parents:
        raise ConfigError(f"the backups folder {target_root} is inside the lake {root}: use --to another folder")
    if not root.is_dir():
        raise BackupError(f"the lake {root} does not exist: nothing to back up")
    keep = ctx.settings.backup_keep
    with _locked(target_root):
        for stale in target_root.glob(".*.partial"):  # an interrupted backup
            shutil.rmtree(stale, ignore_errors=True)
        name = _new_name(target_root)
        partial = target_root / f".{name}.partial"
        partial.mkdir()
        try:
            created = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
            event(log, "backup.start", f"backup {name}: lake {root} and the warehouse → {target_root}")
            files, linked = _copy_lake(root, partial, _previous_files(target_root))
            lake_bytes = sum(f.bytes for f in files)
            event(
                log,
                "backup.lake",
                f"lake: {len(files)} files, {lake_bytes / (1 << 20):.1f} MiB"
                + (f" ({linked} unchanged since the last backup, hard-linked)" if linked else ""),
                files=len(files),
                bytes=lake_bytes,
                linked=linked,
            )
            dump = _dump(ctx.warehouse, partial / DUMP)
            for f in files:
                (partial / f.path).chmod(0o444)
            (partial / DUMP).chmod(0o444)
            manifest = {
                "format": FORMAT,
                "created_at": created,
                "starlink42k": __version__,
                "lake": {"url": root.as_uri(), "files": len(files), "bytes": lake_bytes, "linked": linked},
                "warehouse": dump,
                "files": [f.__dict__ for f in files]
                + [{"path": DUMP, "bytes": dump["bytes"], "sha256": dump["sha256"]}],
            }
            (partial / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            (partial / MANIFEST).chmod(0o444)
            final = target_root / name
            os.rename(partial, final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        removed = prune(target_root, keep)
    event(
        log,
        "backup.done",
        f"backup {final} is complete"
        + (f"; removed {len(removed)} older (BACKUP_KEEP={keep})" if removed else f" (BACKUP_KEEP={keep})"),
        path=str(final),
        removed=",".join(p.name for p in removed),
    )
    return final


def _dump(warehouse: wh.Warehouse, path: Path) -> dict[str, Any]:
    major, version = _server_major(warehouse)
    tools = pg_tools(("pg_dump",), major, warehouse.embedded)
    conninfo, env = _libpq(warehouse)
    event(log, "backup.warehouse", f"warehouse: pg_dump -Fc of {warehouse.display_url()} (PostgreSQL {version})")
    _run(
        [str(tools["pg_dump"]), "--format=custom", "--no-password", f"--file={path}", f"--dbname={conninfo}"],
        env,
        f"pg_dump of {warehouse.display_url()}",
    )
    digest, size = sha256_and_size(path)
    event(log, "backup.warehouse.done", f"warehouse: {size / (1 << 20):.1f} MiB dump", bytes=size)
    return {
        "url": warehouse.display_url(),
        "embedded": warehouse.embedded,
        "database": str(conninfo_to_dict(warehouse.url).get("dbname") or "postgres"),
        "server_version": version,
        "pg_dump": str(tools["pg_dump"]),
        "pg_dump_major": _major(tools["pg_dump"]),
        "object": DUMP,
        "bytes": size,
        "sha256": digest,
    }


def prune(root: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest whole backups under ``root``; returns those deleted."""
    backups = complete_backups(root)
    old = backups[: max(len(backups) - keep, 0)]
    for path in old:
        shutil.rmtree(path)
    return old


# --- restore ----------------------------------------------------------------------------------------


def choose(ctx: Context, source: Path | None) -> Path:
    """A backup folder: ``source`` itself, else the newest under it (default: $DATA_DIR/backups)."""
    where = (source or default_root(ctx)).expanduser().resolve()
    if (where / MANIFEST).is_file():
        return where
    backups = complete_backups(where)
    if not backups:
        raise BackupError(f"no backup in {where}: make one with `starlink42k backup` (make backup)")
    return backups[-1]


def verify(folder: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it lists is there with its size and sha256."""
    try:
        manifest = json.loads((folder / MANIFEST).read_bytes())
    except (OSError, json.JSONDecodeError) as exc:
        raise BackupError(f"{folder / MANIFEST} is unreadable ({exc}); nothing was restored") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} has backup format {manifest.get('format')}, this version reads {FORMAT}")
    bad = []
    for f in manifest["files"]:
        path = (folder / f["path"]).resolve()
        if folder.resolve() not in path.parents:
            raise BackupError(f"{folder / MANIFEST} lists {f['path']!r}, outside the backup; nothing was restored")
        if not path.is_file():
            bad.append(f"{f['path']} is missing")
        elif sha256_and_size(path) != (f["sha256"], f["bytes"]):
            bad.append(f"{f['path']} does not match its sha256")
    if bad:
        raise BackupError(
            f"the backup {folder} is damaged: {'; '.join(bad[:5])}"
            + (f" (and {len(bad) - 5} more)" if len(bad) > 5 else "")
            + "; nothing was restored"
        )
    return manifest


def _lake_files(root: Path) -> int:
    if not root.is_dir():
        return 0
    return sum(1 for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def restore(ctx: Context, source: Path | None = None, force: bool = False) -> Path:
    """Restore the lake folder and the warehouse from a backup; returns the backup used."""
    root = lake_root(ctx, "restore")
    folder = choose(ctx, source)
    event(log, "restore.verify", f"restore from {folder}: checking every file against its sha256")
    manifest = verify(folder)
    warehouse = ctx.warehouse  # starts the embedded one (a new, empty one if it was deleted)
    in_lake, tables = _lake_files(root), _relations(warehouse)
    if (in_lake or tables) and not force:
        held = []
        if in_lake:
            held.append(f"the lake {root} holds {in_lake} files")
        if tables:
            held.append(f"the warehouse {warehouse.display_url()} holds {len(tables)} tables and views")
        raise BackupError(
            f"{' and '.join(held)}: a restore would replace them. Pass --force (make restore FORCE=1) to "
            "replace them, or back them up first (`starlink42k backup`); nothing was restored"
        )
    staging = root.parent / f".{root.name}.restoring"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir(parents=True)
        lake_files = [f for f in manifest["files"] if f["path"].startswith("lake/")]
        for f in lake_files:
            dst = staging / f["path"][len("lake/") :]
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / f["path"], dst)
            dst.chmod(0o666 & ~_UMASK)
        event(log, "restore.lake.staged", f"lake: {len(lake_files)} files copied beside {root}")
        _replay(warehouse, folder / DUMP, manifest["warehouse"])
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        event(log, "restore.nothing", "nothing was restored: the lake and the warehouse are as they were")
        raise
    try:
        _swap(staging, root)
    except OSError as exc:
        raise BackupError(
            f"the warehouse is restored from {folder.name} but the lake is NOT: {exc}. The backup's lake is in "
            f"{staging}: move it to {root}"
        ) from None
    event(
        log,
        "restore.done",
        f"restored {folder.name}: lake {root} ({len(lake_files)} files), warehouse {warehouse.display_url()}",
        backup=str(folder),
    )
    return folder


def _replay(warehouse: wh.Warehouse, dump: Path, info: dict[str, Any]) -> None:
    """The dump into the warehouse in one transaction: each schema the dump has is dropped (with
    whatever is in it now) and recreated as it was; other schemas are left alone. Objects belong
    to the user the warehouse URL logs in as (no owners or grants are restored)."""
    major, _ = _server_major(warehouse)
    tools = pg_tools(("pg_restore", "psql"), max(major, info.get("pg_dump_major") or 0), warehouse.embedded)
    conninfo, env = _libpq(warehouse)
    listing = _run([str(tools["pg_restore"]), "--list", str(dump)], env, f"pg_restore --list {dump}").stdout
    schemas = sorted(set(re.findall(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", listing, re.MULTILINE)))
    quoted = ", ".join('"' + s.replace('"', '""') + '"' for s in schemas)
    prelude = "set client_min_messages = warning;\n" + (f"drop schema if exists {quoted} cascade;\n" if schemas else "")
    event(
        log,
        "restore.warehouse",
        f"warehouse: replaying the dump into {warehouse.display_url()} in one transaction "
        f"(schemas {', '.join(schemas) or '-'} replaced)",
    )
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prelude.sql").write_text(prelude)
        restore_cmd = [str(tools["pg_restore"]), "--no-owner", "--no-acl", "--file=-", str(dump)]
        psql_cmd = [
            str(tools["psql"]),
            "--no-psqlrc",
            "--quiet",
            "--single-transaction",
            "--set=ON_ERROR_STOP=1",
            f"--file={Path(tmp) / 'prelude.sql'}",
            "--file=-",
            f"--dbname={conninfo}",
        ]
        with tempfile.TemporaryFile("w+") as restore_err:
            producer = subprocess.Popen(restore_cmd, env=env, stdout=subprocess.PIPE, stderr=restore_err)
            assert producer.stdout is not None
            try:
                consumer = subprocess.run(
                    psql_cmd, env=env, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
                )
            finally:
                producer.stdout.close()
                producer.wait()
            restore_err.seek(0)
            errors = restore_err.read().strip()
    if producer.returncode != 0 or consumer.returncode != 0:
        detail = "\n".join((errors + "\n" + consumer.stderr.decode(errors="replace")).strip().splitlines()[-6:])
        raise BackupError(f"replaying {dump} into {warehouse.display_url()} failed (rolled back): {detail}")
    event(log, "restore.warehouse.done", f"warehouse: {len(_relations(warehouse))} tables and views restored")


def _swap(staging: Path, root: Path) -> None:
    """Put the staged lake in place of ``root``: two renames, or a move of its entries where
    ``root`` cannot be renamed (a mount point)."""
    if not root.exists():
        os.rename(staging, root)
        return
    old = root.parent / f".{root.name}.replaced"
    shutil.rmtree(old, ignore_errors=True)
    try:
        os.rename(root, old)
    except OSError:  # e.g. a mounted volume: empty it in place instead
        for entry in list(root.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for entry in list(staging.iterdir()):
            os.rename(entry, root / entry.name)
        staging.rmdir()
        return
    os.rename(staging, root)
    shutil.rmtree(old, ignore_errors=True)
