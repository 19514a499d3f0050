"""Infrastructure down: PostgreSQL stopped mid-load, S3 unreachable or failing mid-upload, a full disk
and a read-only file system under the local lake; the warehouse failing in the last dataset's load (a
statement timeout, a lock timeout, a full tablespace, a cut connection) and while publishing.

Each case breaks a rerun of a ds that a good run committed, and asserts: exit 1 with one clear message
naming what failed; DS as readers see it unchanged (every raw table row for row, its answer.json byte for
byte; lake partitions either committed and matching their manifest, or without a manifest, which readers
refuse); no temporary file left; then, the fault removed, a clean `run` gives the identical answer.

The PostgreSQL and S3 servers here are the cases' own (a pgserver instance, a moto_server behind a
cuttable proxy), never the session's shared ones; the lake's disk is a small tmpfs mounted for the case
(root only: elsewhere the full disk is an ENOSPC injected at fsync, and the read-only case is skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_stack import Stack, lake_leftovers, pending_state, start_watched, wait_for, warehouse_leftovers
from kill_support import DS, Baseline, backends, baseline, holding, load_held_at_upsert, with_injection
from netproxy import CuttableProxy

from support.net import moto_server

RUN = ("run", "--ds", DS)
LAKE_MB = 64


def mount_tmpfs(path: Path, megabytes: int) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(path)], capture_output=True
    )  # fmt: skip
    return done.returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True)


# --- a stack with its own PostgreSQL and the lake on its own tmpfs ---------------------------------


class OwnServer:
    def __init__(self, pgdata: Path):
        import pgserver

        self.server = pgserver.get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata
        from starlink42k.warehouse import embedded_url

        self.url = embedded_url(pgdata)

    def stop(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=60)

    def start(self) -> None:
        self.server.ensure_postgres_running()


@pytest.fixture(scope="module")
def own(tmp_path_factory, api_docs: dict, satcat_records: list[dict]) -> Iterator[tuple[Baseline, OwnServer, bool]]:
    root = tmp_path_factory.mktemp("infra")
    # Not under pytest's tmp root (0700: pgserver's own user, under root, could not enter it).
    pg_root = Path(tempfile.mkdtemp(prefix="starlink42k-faults-pg-"))
    server = OwnServer(pg_root / "pgdata")
    tmpfs = mount_tmpfs(root / "lake", LAKE_MB)
    try:
        with baseline(root, "", api_docs, satcat_records, url=server.url, previous=False) as base:
            yield base, server, tmpfs
    finally:
        if tmpfs:
            umount(root / "lake")
        server.server.cleanup()
        shutil.rmtree(pg_root, ignore_errors=True)


def assert_failed_cleanly(base: Baseline, done: Any, *needles: str, before: dict[str, Any]) -> None:
    out = done.stderr if isinstance(done.stderr, str) else ""
    assert done.returncode == 1, out[-3000:]
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "Traceback" not in out, out[-3000:]
    for needle in needles:
        assert needle in error[0], error[0]
    assert base.stack.leftovers() == []
    base.assert_intact()
    assert base.committed() == before


@pytest.mark.fault("Infrastructure", "full disk under the local lake (tmpfs): exit 1 naming the object, no temp file")
def test_full_disk(own: tuple[Baseline, OwnServer, bool]) -> None:
    base, _, tmpfs = own
    before = base.committed()
    lake = base.stack.lake_dir
    filler = lake / "filler"
    if tmpfs:
        free = shutil.disk_usage(lake).free
        with filler.open("wb") as fh:  # leave less than any raw object needs
            fh.truncate(0)
            fh.write(b"\0" * max(free - (16 << 10), 0))
        done = base.stack.run(*RUN)
    else:
        done = base.stack.run(
            *RUN, **with_injection(base.stack.env, FAULT_FSYNC_MATCH=str(lake), FAULT_FSYNC_ACTION="ENOSPC")
        )
    filler.unlink(missing_ok=True)
    assert_failed_cleanly(base, done, "No space left on device", "cannot write file://", before=before)
    base.assert_rerun(RUN)


@pytest.mark.fault("Infrastructure", "read-only lake (tmpfs remounted ro): exit 1 naming the object, nothing changed")
def test_read_only_lake(own: tuple[Baseline, OwnServer, bool]) -> None:
    base, _, tmpfs = own
    if not tmpfs:
        pytest.skip("mounting a tmpfs needs root")
    lake = base.stack.lake_dir
    before = base.committed()
    files = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lake.rglob("*") if p.is_file()}
    subprocess.run(["mount", "-o", "remount,ro", str(lake)], check=True)
    try:
        done = base.stack.run(*RUN)
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(lake)], check=True)
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in lake.rglob("*") if p.is_file()} == files
    assert_failed_cleanly(base, done, "Read-only file system", before=before)
    base.assert_rerun(RUN)


@pytest.mark.fault(
    "Infrastructure", "PostgreSQL stopped mid-load (the pending table swapped, uncommitted), then restarted"
)
def test_postgres_stopped_mid_load(own: tuple[Baseline, OwnServer, bool]) -> None:
    """The load is held on its upsert, the new pending table swapped in within its transaction
    (kill_support.load_held_at_upsert); the server is then stopped (fast: every session is terminated),
    so the message cannot read what the warehouse kept, and says so."""
    base, server, _ = own
    stack = base.stack
    before = base.committed()
    with load_held_at_upsert(stack, "starlink", DS) as proc:
        server.stop()
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            server.start()
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", err)
    assert_failed_cleanly(
        base,
        done,
        "loading file://",
        "raw.starlink failed",
        "nothing of this load was kept",
        f"Which datasets of ds {DS} are loaded and unpublished could not be read (cannot connect",
        "`starlink42k status` shows it. Readers see published data only",
        before=before,
    )
    base.assert_rerun(
        ("load", "starlink", "--ds", DS), ("publish", "--ds", DS), ("transform", "--ds", DS), ("report", "--ds", DS)
    )


@pytest.mark.fault("Infrastructure", "PostgreSQL down: a step fails at once, naming the warehouse")
def test_postgres_down(own: tuple[Baseline, OwnServer, bool]) -> None:
    base, server, _ = own
    before = base.committed()
    server.stop()
    try:
        done = base.stack.run("load", "starlink", "--ds", DS)
    finally:
        server.start()
    assert_failed_cleanly(base, done, "cannot connect to the warehouse", before=before)


# --- the warehouse failing in the last dataset's load, and while publishing --------------------------
# A rerun of DS (published by the good run) fails in the load of satcat, the last of DATASETS, or in
# publishing: what readers see of DS is as before, row for row; what was loaded is kept unpublished; the
# message says exactly that, and a rerun completes it and publishes DS whole.

TRANSFORM_AND_REPORT = (("transform", "--ds", DS), ("report", "--ds", DS))
SATCAT_LOCK = "select pg_advisory_xact_lock(hashtext('starlink42k.load'), hashtext('satcat'))"


def kept_message(kept: str, not_loaded: str, rerun: str) -> str:
    return (
        f"ds {DS} stays as published before; loaded and unpublished: {kept}"
        + (f"; not loaded: {not_loaded}" if not_loaded else "")
        + f". Readers see its published data; a rerun (`{rerun}`) completes and publishes it."
    )


LAST_LOAD_FAILED = "nothing of this load was kept. " + kept_message(
    "launches, starlink", "satcat", f"starlink42k run --ds {DS}"
)


def assert_kept_unpublished(
    base: Baseline, done: Any, *needles: str | re.Pattern[str], before: dict, kept: list[str]
) -> None:
    """Exit 1 with one message naming ``needles`` (a text it holds, or a pattern it matches); DS as
    readers see it unchanged; ``kept`` pending."""
    out = done.stderr if isinstance(done.stderr, str) else ""
    assert done.returncode == 1, out[-3000:]
    error = [line for line in out.splitlines() if line.startswith("error: ")]
    assert len(error) == 1 and "Traceback" not in out, out[-3000:]
    for needle in needles:
        assert needle.search(error[0]) if isinstance(needle, re.Pattern) else needle in error[0], error[0]
    base.assert_intact()
    assert base.committed() == before
    url = base.stack.warehouse_url
    assert pending_state(url) == {DS: kept}
    assert warehouse_leftovers(url) + lake_leftovers(base.stack.lake_dir) == []


def lock_wait_ran_out(what: str, holder: str) -> re.Pattern[str]:
    """A bounded lock wait that ran out (warehouse.waiting_for), as the message names it: how long it
    waited, for ``what`` (with what may hold it, in parentheses), and the case's own session holding the
    lock (``holder``: the statement that took it), first of the holders as it is the oldest."""
    return re.compile(
        rf"failed: waited \d+s \(LOCK_WAIT_SECONDS\) for {re.escape(what)}(?: \([^)]*\))?; held by pid \d+ "
        rf"postgres \(idle in transaction for \d+s: {re.escape(holder)}\)"
    )


def database_setting(url: str, name: str, value: str | None) -> None:
    """``alter database ... set`` (None: reset): every new session of the pipeline gets it."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        database = conn.info.dbname
        if value is None:
            conn.execute(f'alter database "{database}" reset {name}')
        else:
            conn.execute(f"alter database \"{database}\" set {name} = '{value}'")


@pytest.mark.fault(
    "Infrastructure",
    "statement timeout in the last dataset's load: exit 1 saying launches, starlink are kept unpublished and satcat "
    "is not loaded; readers see DS as before; `load satcat` completes and publishes it",
)
def test_statement_timeout_in_the_last_load(own: tuple[Baseline, OwnServer, bool]) -> None:
    """The satcat load's first statement on raw.satcat waits for a lock another session holds, past the
    database's statement_timeout (the issue's large SATCAT did the same with its COPY)."""
    base, server, _ = own
    before = base.committed()
    with holding(server.url, "lock table raw.satcat in access exclusive mode"):
        database_setting(server.url, "statement_timeout", "3s")
        try:
            done = base.stack.run(*RUN)
        finally:
            database_setting(server.url, "statement_timeout", None)
    assert_kept_unpublished(
        base,
        done,
        f"error: loading file://{base.stack.lake_dir}/curated/celestrak/satcat/ds={DS}/satcat.csv into raw.satcat "
        "failed: canceling statement due to statement timeout",
        LAST_LOAD_FAILED,
        before=before,
        kept=["launches", "starlink"],
    )
    base.assert_rerun(("load", "satcat", "--ds", DS), *TRANSFORM_AND_REPORT)


@pytest.mark.fault(
    "Infrastructure",
    "lock timeout in the last dataset's load: exit 1 saying what is kept unpublished and what is not; "
    "the rerun publishes the ds whole",
)
def test_lock_timeout_in_the_last_load(own: tuple[Baseline, OwnServer, bool]) -> None:
    base, server, _ = own
    before = base.committed()
    with holding(server.url, "lock table raw.satcat in access exclusive mode"):
        done = base.stack.run(*RUN, **with_injection(base.stack.env, FAULT_LOCK_WAIT="3"))
    assert_kept_unpublished(
        base,
        done,
        "into raw.satcat failed: waited ",
        lock_wait_ran_out("the locks of raw.satcat", "lock table raw.satcat in access exclusive mode"),
        LAST_LOAD_FAILED,
        before=before,
        kept=["launches", "starlink"],
    )
    base.assert_rerun(RUN)


@pytest.mark.fault(
    "Infrastructure",
    "lock timeout while publishing (a reader holds raw.starlink): nothing published, all three kept "
    "unpublished; `publish` completes it",
)
def test_lock_timeout_while_publishing(own: tuple[Baseline, OwnServer, bool]) -> None:
    """Publishing swaps launches and satcat in, then waits for raw.starlink, which a reader's long query
    holds, past the bounded wait: the transaction rolls back whole."""
    base, server, _ = own
    before = base.committed()
    with holding(server.url, "lock table raw.starlink in access share mode"):
        done = base.stack.run(*RUN, **with_injection(base.stack.env, FAULT_LOCK_WAIT="3"))
    assert_kept_unpublished(
        base,
        done,
        f"error: publishing ds {DS} failed: waited ",
        lock_wait_ran_out(
            f"a transform, the loads of launches, satcat, starlink and the readers of ds {DS}'s partitions",
            "lock table raw.starlink in access share mode",
        ),
        "nothing of it changed. " + kept_message("launches, starlink, satcat", "", f"starlink42k publish --ds {DS}"),
        before=before,
        kept=["launches", "satcat", "starlink"],
    )
    base.assert_rerun(("publish", "--ds", DS), *TRANSFORM_AND_REPORT)


@pytest.mark.fault(
    "Infrastructure",
    "disk full in the last dataset's load (its tablespace on a small tmpfs): exit 1 saying what is kept "
    "unpublished; the rerun publishes the ds whole",
)
def test_disk_full_in_the_last_load(own: tuple[Baseline, OwnServer, bool]) -> None:
    """New tables go to a tablespace on an 8 MB tmpfs; launches and starlink load into it, then, the
    satcat load held at its start, the disk is filled, and satcat's COPY finds no space."""
    import pwd

    import psycopg

    base, server, tmpfs = own
    if not tmpfs:
        pytest.skip("mounting a tmpfs needs root")
    # Not under pytest's tmp root (0700: the server's own user could not enter it).
    root = Path(tempfile.mkdtemp(prefix="starlink42k-faults-tablespace-"))
    root.chmod(0o755)
    place = root / "disk"
    assert mount_tmpfs(place, 8)
    try:
        owner = pwd.getpwnam(server.server.system_user or pwd.getpwuid(0).pw_name)
        os.chown(place, owner.pw_uid, owner.pw_gid)
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute(f"create tablespace small location '{place}'")
        before = base.committed()
        database_setting(server.url, "default_tablespace", "small")
        try:
            with holding(server.url, SATCAT_LOCK):
                proc = start_watched(base.stack, *RUN)
                waiting = lambda: backends(server.url, query_like="%pg_advisory_xact_lock(%", wait_event="advisory")  # noqa: E731
                wait_for(lambda: waiting() == 1 or proc.proc.poll() is not None, 300)
                assert proc.proc.poll() is None, proc.stderr()[-3000:]
                with (place / "filler").open("wb") as fh:  # leave less than satcat's table needs
                    fh.write(b"\0" * max(shutil.disk_usage(place).free - (32 << 10), 0))
            proc.wait(300)
        finally:
            database_setting(server.url, "default_tablespace", None)
            (place / "filler").unlink(missing_ok=True)
        done = subprocess.CompletedProcess(proc.proc.args, proc.proc.returncode, "", proc.stderr())
        assert_kept_unpublished(
            base,
            done,
            "into raw.satcat failed: could not extend file",
            "No space left on device",
            LAST_LOAD_FAILED,
            before=before,
            kept=["launches", "starlink"],
        )
        base.assert_rerun(RUN)  # the rerun's tables go to the default tablespace, the kept ones are replaced
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("drop tablespace small")  # empty: nothing of the failed run is left in it
    finally:
        umount(place)
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.fault(
    "Infrastructure",
    "the warehouse connection cut during the last dataset's load: exit 1 saying what is kept unpublished; "
    "`load satcat` completes and publishes it",
)
def test_connection_cut_in_the_last_load(own: tuple[Baseline, OwnServer, bool]) -> None:
    """The run reaches the warehouse through a proxy; with the satcat load in its transaction, every
    connection is reset (as a dropped route does), while the proxy lets new ones through (the route is
    back at once: the message reads what was kept)."""
    from psycopg.conninfo import conninfo_to_dict

    base, server, _ = own
    socket_path = f"{conninfo_to_dict(server.url)['host']}/.s.PGSQL.5432"
    proxy = CuttableProxy(socket_path)
    try:
        before = base.committed()
        with holding(server.url, SATCAT_LOCK):
            proc = start_watched(
                base.stack, *RUN, WAREHOUSE_URL=f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"
            )
            waiting = lambda: backends(server.url, query_like="%pg_advisory_xact_lock(%", wait_event="advisory")  # noqa: E731
            wait_for(lambda: waiting() == 1 or proc.proc.poll() is not None, 300)
            assert proc.proc.poll() is None, proc.stderr()[-3000:]
            proxy.cut()  # every connection reset; the reconnects of the message's state read get through
            proc.wait(120)
            wait_for(lambda: backends(server.url) == 0, 30)  # the cut backend noticed, rolled back
    finally:
        proxy.close()
    done = subprocess.CompletedProcess(proc.proc.args, proc.proc.returncode, "", proc.stderr())
    assert_kept_unpublished(
        base, done, "into raw.satcat failed: ", LAST_LOAD_FAILED, before=before, kept=["launches", "starlink"]
    )
    base.assert_rerun(("load", "satcat", "--ds", DS), *TRANSFORM_AND_REPORT)


# --- a stack with an S3 lake (its own moto_server, behind a proxy the cases cut) --------------------


class S3Stack(Stack):
    """The stack with an S3 lake: the lake's files and answers are read from the bucket."""

    client: Any = None
    bucket: str = ""
    prefix: str = "lake/"

    def objects(self) -> dict[str, bytes]:
        out = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                out[key[len(self.prefix) :]] = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return out

    def answer(self, ds: str) -> bytes:
        return self.objects()[f"reports/starlink/ds={ds}/answer.json"]


def s3_problems(objects: dict[str, bytes]) -> list[str]:
    problems = []
    for key, body in objects.items():
        if key.endswith("/_manifest.json"):
            manifest = json.loads(body)
            data = objects.get(key.rsplit("/", 1)[0] + "/" + manifest["object"])
            if data is None or hashlib.sha256(data).hexdigest() != manifest["sha256"]:
                problems.append(f"s3: {key} does not match its object")
    return problems


@pytest.fixture(scope="module")
def s3(
    tmp_path_factory, pg_server: str, api_docs: dict, satcat_records: list[dict]
) -> Iterator[tuple[Baseline, CuttableProxy]]:
    import boto3

    with moto_server() as port:
        proxy = CuttableProxy(port)
        try:
            creds = {
                "AWS_ACCESS_KEY_ID": "test-access-key",
                "AWS_SECRET_ACCESS_KEY": "test-secret-key",
                "AWS_DEFAULT_REGION": "us-east-1",
            }
            bucket = f"lake-{uuid.uuid4().hex[:10]}"
            client = boto3.client(
                "s3",
                endpoint_url=f"http://127.0.0.1:{port}",
                aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                region_name="us-east-1",
            )
            client.create_bucket(Bucket=bucket)
            S3Stack.client, S3Stack.bucket = client, bucket
            root = tmp_path_factory.mktemp("s3")
            env = {**creds, "LAKE_URL": f"s3://{bucket}/lake", "S3_ENDPOINT_URL": proxy.url}
            with baseline(
                root, pg_server, api_docs, satcat_records, previous=False, stack_class=S3Stack, **env
            ) as base:
                yield base, proxy
        finally:
            proxy.close()


@pytest.mark.parametrize(
    "mode",
    [
        pytest.param(
            "down",
            marks=pytest.mark.fault(
                "Infrastructure", "S3 unreachable mid-upload (connections reset): exit 1, no partial object"
            ),
        ),
        pytest.param(
            "500",
            marks=pytest.mark.fault(
                "Infrastructure", "S3 answering 500 mid-upload: exit 1 after its retries, no partial object"
            ),
        ),
    ],
)
def test_s3_fails_mid_upload(s3: tuple[Baseline, CuttableProxy], mode: str) -> None:
    base, proxy = s3
    stack = base.stack
    assert isinstance(stack, S3Stack)
    before = base.committed()
    proc = start_watched(stack, *RUN)
    try:
        proc.wait_event("extract.written", 300)  # the first dataset is in the lake, the others are not
        proxy.set_mode(mode)
        code = proc.wait(180)  # bounded: botocore's retries end
    finally:
        proxy.set_mode("pass")
    error = [json.loads(line) for line in proc.lines if '"level": "error"' in line]
    assert code == 1, proc.stderr()[-3000:]
    assert len(error) == 1 and re.match(r"cannot (write|delete|check|list) s3://", error[0]["msg"]), error
    assert "Traceback" not in proc.stderr()
    assert s3_problems(stack.objects()) == []
    assert base.committed() == before
    assert stack.leftovers() == []
    base.assert_rerun(RUN)
    assert s3_problems(stack.objects()) == []
