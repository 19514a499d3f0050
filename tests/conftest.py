"""Real services for the tests, started once per session on loopback.

- PostgreSQL: the embedded server the pipeline itself uses (pgserver), one fresh database per test.
- S3: moto's S3 API server, as a separate process; boto3 talks to it over HTTP.
- The SpaceX API / CelesTrak: ``ScriptedReplay`` (support/replay.py) with fixture documents and scripted faults.
- The golden run: one whole run of those documents, made once, for the tests that only read a run.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from starlink42k.settings import variable_names
from starlink42k.warehouse import embedded_url
from support import spacex_docs as docs
from support.golden import Run, database, whole_run
from support.net import moto_server
from support.replay import ScriptedReplay

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent

# --- tiers -----------------------------------------------------------------------------------------
# `make test` runs what no slow tier's marker marks (pyproject.toml lists them); these folders and
# files are a tier as a whole, marked here so that a new test there cannot land in the fast tier.
WHOLE_TIERS = {
    "faults": lambda path: TESTS / "faults" in path.parents,
    # the container tests; tests/images/test_dockerfiles.py (hadolint) needs no Docker
    "images": lambda path: path.parent == TESTS / "images" and path.name != "test_dockerfiles.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, holds in WHOLE_TIERS.items():
            if holds(item.path):
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's pipeline settings (every variable the pipeline reads); each gets
    its own data dir, and the checkout's dbt project whatever the working directory."""
    for name in variable_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DBT_PROJECT_DIR", str(REPO / "dbt"))


# --- PostgreSQL ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    import pgserver

    # Not under pytest's tmp root: another pytest session rotating old tmp dirs must not delete it.
    root = Path(tempfile.mkdtemp(prefix="starlink42k-pg-"))
    server = pgserver.get_server(root / "pgdata", cleanup_mode="stop")
    try:
        yield embedded_url(root / "pgdata")
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def warehouse_url(pg_server: str) -> Iterator[str]:
    """A new, empty database for one test."""
    with database(pg_server, prefix="t") as url:
        yield url


# --- S3 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    with moto_server() as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket; the standard AWS variables point boto3 at the local server."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = f"lake-{uuid.uuid4().hex[:10]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


# --- the SpaceX API ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def api_docs() -> dict[str, list[dict]]:
    """A schema-faithful slice of the API: 40 launches, 1,234 satellites (13 pages of 100)."""
    return docs.constellation(starlink_launches=24, other_launches=16, satellites=1234)


@pytest.fixture
def replay(api_docs: dict[str, list[dict]]) -> Iterator[ScriptedReplay]:
    with ScriptedReplay(spacex=api_docs) as server:
        yield server


@pytest.fixture
def pipeline_env(
    monkeypatch: pytest.MonkeyPatch, replay: ScriptedReplay, warehouse_url: str, tmp_path: Path
) -> dict[str, str]:
    """Environment for a CLI run against the replay, a local-folder lake and a test database."""
    env = {
        "SPACEX_API_URL": replay.spacex_url,
        "LAKE_URL": (tmp_path / "lake").as_uri(),
        "WAREHOUSE_URL": warehouse_url,
        "DATASETS": "launches,starlink",
        "SPACEX_PAGE_SIZE": "100",
        "HTTP_BACKOFF_SECONDS": "0.01",
        "HTTP_TIMEOUT": "5",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


# --- the golden run ------------------------------------------------------------------------------
GOLDEN_DS = "2024-01-31"


@pytest.fixture(scope="session")
def golden_run(
    pg_server: str, api_docs: dict[str, list[dict]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Run]:
    """`starlink42k run` of ``api_docs`` for GOLDEN_DS, once per session (support/golden.py): read it,
    never write to it."""
    with whole_run(api_docs, GOLDEN_DS, tmp_path_factory.mktemp("golden"), pg_server) as run:
        yield run
