"""Helpers of the image tests (paths, image names, docker runs, uv.lock closures); fixtures are in
conftest.py.

The container tests need the images built and a Docker daemon: `make test-images` builds them on
local base images and runs this folder with IMAGE_TESTS=required. Without IMAGE_TESTS they skip;
with IMAGE_TESTS=1 they run against images already built and skip (saying why) when there are none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

from support.net import free_port, wait_for_port  # noqa: F401  (re-exported for the image tests)

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"
LOCK = ROOT / "uv.lock"

# "" (not asked for: the container tests skip), "1" (run; skip without images or daemon),
# "required" (`make test-images`: fail without them).
IMAGE_TESTS = os.environ.get("IMAGE_TESTS", "").strip().lower()
NOT_REQUESTED = (
    "container tests run with `make test-images` (it builds the images first); "
    "IMAGE_TESTS=1 runs them against images already built"
)

# The tag `make test-images` built (images/tag.sh), else this checkout's own.
IMAGE_TAG = (
    os.environ.get("IMAGE_TAG")
    or subprocess.run([str(IMAGES / "tag.sh")], capture_output=True, text=True, check=False).stdout.strip()
)
PIPELINE = f"starlink42k/pipeline:{IMAGE_TAG}"
DBT = f"starlink42k/dbt:{IMAGE_TAG}"
AIRFLOW = f"starlink42k/airflow:{IMAGE_TAG}"

# The pod contract: what Kubernetes enforces (restricted Pod Security, readOnlyRootFilesystem with
# an emptyDir at /tmp), as docker run options.
HARDENED = ("--read-only", "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges")
PIPELINE_UID = "10001"
AIRFLOW_UID = "50000"


def dockerfiles() -> list[Path]:
    """Every Dockerfile of the project: images/<name>/Dockerfile and images/<name>/*.Dockerfile."""
    return sorted({*IMAGES.glob("*/Dockerfile"), *IMAGES.glob("*/*.Dockerfile")})


def docker_binary() -> str | None:
    """IMAGES_DOCKER, else Debian's client (BuildKit built in), else the first `docker` on PATH."""
    if os.environ.get("IMAGES_DOCKER"):
        return os.environ["IMAGES_DOCKER"]
    if Path("/usr/bin/docker").exists():
        return "/usr/bin/docker"
    return shutil.which("docker")


@dataclass(frozen=True)
class Docker:
    binary: str

    def run(
        self,
        image: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        options: Sequence[str] = HARDENED,
        user: str | None = None,
        network_host: bool = False,
        entrypoint: str | None = None,
        timeout: float = 600,
    ) -> subprocess.CompletedProcess[str]:
        """`docker run --rm` with the pod's restrictions by default; output captured, never raises."""
        command = [self.binary, "run", "--rm", *options]
        if user:
            command += ["--user", user]
        if network_host:
            command += ["--network", "host"]
        if entrypoint is not None:
            command += ["--entrypoint", entrypoint]
        for name, value in (env or {}).items():
            command += ["--env", f"{name}={value}"]
        command += [image, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout)

    def inspect(self, image: str) -> dict:
        out = subprocess.run(
            [self.binary, "image", "inspect", image], capture_output=True, text=True, check=True, timeout=60
        )
        return json.loads(out.stdout)[0]


@dataclass(frozen=True)
class TcpPostgres:
    port: int
    socket_dir: Path
    user: str = "pipeline"
    password: str = "pipeline-test-password"  # a throwaway local server
    database: str = "warehouse"

    @property
    def url(self) -> str:
        """What the pipeline pods get as WAREHOUSE_URL."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dbt_env(self) -> dict[str, str]:
        """What the dbt pods get (profiles.yml reads them with env_var())."""
        return {
            "WAREHOUSE_HOST": "127.0.0.1",
            "WAREHOUSE_PORT": str(self.port),
            "WAREHOUSE_USER": self.user,
            "WAREHOUSE_PASSWORD": self.password,
            "WAREHOUSE_DB": self.database,
        }

    def admin(self, database: str | None = None) -> psycopg.Connection:
        """A superuser connection over the unix socket (trust), for setup and assertions."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user="postgres",
            dbname=database or self.database,
            autocommit=True,
        )


@dataclass(frozen=True)
class Bucket:
    endpoint: str
    name: str
    credentials: dict[str, str]

    def keys(self) -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.credentials["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.credentials["AWS_SECRET_ACCESS_KEY"],
            region_name=self.credentials["AWS_DEFAULT_REGION"],
        )
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def output(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"


# --- uv.lock -------------------------------------------------------------------------------------


def lock_packages() -> dict[str, list[dict]]:
    """uv.lock's packages by name (a name can have several entries, one per resolution fork)."""
    packages: dict[str, list[dict]] = {}
    for package in tomllib.loads(LOCK.read_text())["package"]:
        packages.setdefault(package["name"], []).append(package)
    return packages


def lock_closure(roots: Iterable[tuple[str, tuple[str, ...]]]) -> set[str]:
    """Every package the lock resolves for ``(name, extras)`` roots, following extras, any marker."""
    packages = lock_packages()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    stack = list(roots)
    while stack:
        name, extras = stack.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for package in packages[name]:
            deps = list(package.get("dependencies", []))
            for extra in extras:
                deps += package.get("optional-dependencies", {}).get(extra, [])
            stack += [(d["name"], tuple(sorted(d.get("extra", [])))) for d in deps]
    return {name for name, _ in seen}


def project_extra(extra: str) -> list[tuple[str, tuple[str, ...]]]:
    """The direct requirements of one optional-dependency group of the project, from uv.lock."""
    (project,) = lock_packages()["starlink42k"]
    return [(d["name"], tuple(sorted(d.get("extra", [])))) for d in project["optional-dependencies"][extra]]


def lock_versions() -> dict[str, set[str]]:
    return {name: {p["version"] for p in entries} for name, entries in lock_packages().items()}


def requirement_pins(text: str) -> dict[str, str]:
    """``name==version`` lines of a requirements file (hash continuation lines ignored)."""
    pins = {}
    for line in text.splitlines():
        if "==" in line and not line.lstrip().startswith(("#", "--")):
            name, _, rest = line.partition("==")
            pins[name.strip().lower()] = rest.split()[0].rstrip("\\").split(";")[0].strip()
    return pins


def dockerfile_arg(dockerfile: Path, name: str) -> str:
    """The default of ``ARG <name>=...`` in a Dockerfile (quotes removed)."""
    for line in dockerfile.read_text().splitlines():
        if line.startswith(f"ARG {name}="):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError(f"{dockerfile} has no ARG {name}=...")
