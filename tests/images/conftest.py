"""Fixtures of the image tests: the Docker client and images, and real services on loopback for the
containers (run with --network host): PostgreSQL over TCP, moto's S3 server, the API replay.

The services the rest of the tests use (tests/conftest.py) do not fit a container as they are:
the embedded pgserver listens on a unix socket only, so here pgserver's own PostgreSQL binaries
run a second, TCP server (with a password, as in the cluster).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from images_helpers import (
    AIRFLOW,
    DBT,
    IMAGE_TESTS,
    NOT_REQUESTED,
    PIPELINE,
    Bucket,
    Docker,
    TcpPostgres,
    docker_binary,
    free_port,
    wait_for_port,
)

from starlink42k.replay import ReplayServer


def _unavailable(reason: str) -> None:
    """Skip, or fail when `make test-images` runs us (it has just built the images)."""
    if IMAGE_TESTS == "required":
        pytest.fail(f"{reason} (IMAGE_TESTS=required: `make test-images` should have provided it)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def docker() -> Docker:
    if not IMAGE_TESTS:
        pytest.skip(NOT_REQUESTED)
    binary = docker_binary()
    if not binary:
        _unavailable("no docker client (set IMAGES_DOCKER, or run images/local-engine.sh)")
    info = subprocess.run([binary, "info"], capture_output=True, text=True, timeout=60)
    if info.returncode != 0:
        _unavailable(f"no Docker daemon answers {binary}: start one (images/local-engine.sh does)")
    return Docker(binary)


@pytest.fixture(scope="session")
def images(docker: Docker) -> Docker:
    """The Docker client, once all three images exist."""
    for image in (PIPELINE, DBT, AIRFLOW):
        found = subprocess.run([docker.binary, "image", "inspect", image], capture_output=True, timeout=60)
        if found.returncode != 0:
            _unavailable(f"image {image} is not built: make images (or make test-images)")
    return docker


# --- PostgreSQL over TCP -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tcp_postgres() -> Iterator[TcpPostgres]:
    """PostgreSQL from pgserver's binaries on 127.0.0.1:<free port>, password auth over TCP.

    Like pgserver itself: PostgreSQL refuses to run as root, so as root the server runs as the
    system user `pgserver` (pgserver's helpers create it and open the paths to it).
    """
    pytest.importorskip("pgserver")
    from pgserver._commands import POSTGRES_BIN_PATH, initdb, pg_ctl

    base = Path(tempfile.mkdtemp(prefix="pg-tcp-"))  # short: unix socket paths are limited
    pgdata, socket_dir = base / "pgdata", base / "socket"
    pgdata.mkdir()
    socket_dir.mkdir()
    run_as = None
    if os.geteuid() == 0:
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

        run_as = "pgserver"
        entry = ensure_user_exists(run_as)
        ensure_prefix_permissions(pgdata)
        ensure_folder_permissions(POSTGRES_BIN_PATH, 0o555)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", 0o444)
        for path in (base, pgdata, socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    server = TcpPostgres(port=free_port(), socket_dir=socket_dir)
    pwfile = base / "pwfile"
    pwfile.write_text("postgres-test-password\n")
    if run_as:
        os.chown(pwfile, pwd.getpwnam(run_as).pw_uid, -1)
    initdb(
        ["--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=utf8", "-U", "postgres", f"--pwfile={pwfile}"],
        pgdata=pgdata,
        user=run_as,
    )
    pg_ctl(
        ["-w", "-o", f"-h 127.0.0.1 -p {server.port} -k {socket_dir}", "-l", str(pgdata / "server.log"), "start"],
        pgdata=pgdata,
        user=run_as,
        timeout=60,
    )
    try:
        wait_for_port(server.port)
        # The cluster's layout: a login role that owns the warehouse database (dbt creates schemas).
        with server.admin("postgres") as conn:
            conn.execute(f"create role {server.user} login password '{server.password}'")
            conn.execute(f"create database {server.database} owner {server.user}")
        yield server
    finally:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=run_as, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


# --- S3 and the API replay -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def lake_bucket(s3_endpoint: str) -> Bucket:
    """A new bucket on moto's S3 server (tests/conftest.py starts it on 127.0.0.1)."""
    import boto3

    credentials = {
        "AWS_ACCESS_KEY_ID": "test-access-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret-key",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    name = f"starlink-lake-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        region_name=credentials["AWS_DEFAULT_REGION"],
    ).create_bucket(Bucket=name)
    return Bucket(s3_endpoint, name, credentials)


@pytest.fixture(scope="session")
def sample_api() -> Iterator[ReplayServer]:
    """The bundled sample data served like the SpaceX API and CelesTrak, on 127.0.0.1:<free port>."""
    with ReplayServer.from_directory(host="127.0.0.1", port=free_port()) as server:
        yield server
