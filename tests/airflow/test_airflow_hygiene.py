"""No credential in airflow/, every image pinned, the DAG's images are the build's own tag, and
nothing in airflow/ imports the pipeline (airflow/README.md: its CLI is the contract)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from airflow_helpers import REPO

AIRFLOW_DIR = REPO / "airflow"
# Credential-looking literals: cloud keys, Slack webhooks and tokens, passwords inside URLs,
# private keys, and `password = "..."`-style assignments with a non-empty literal.
SECRET_PATTERNS = {
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "Slack webhook": re.compile(r"hooks\.slack\.com/services/T[0-9A-Z]+/"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    "password in a URL": re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:[^@\s/'\"$%{]+@"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "assigned secret": re.compile(
        r"(?i)\b(password|passwd|secret|secret_key|access_key|api_key|token)\s*[=:]\s*['\"][^'\"\s{$]{6,}['\"]"
    ),
    "long high-entropy string": re.compile(r"['\"][A-Za-z0-9+/]{40,}={0,2}['\"]"),
}
# An image with a tag: ours (registry-less) or any registry host's.
IMAGE_REF = re.compile(
    r"\b(?:starlink42k/(?:pipeline|dbt|airflow)|[a-z0-9.-]+\.[a-z]{2,}(?::\d+)?/[a-z0-9._/-]+):([^\s\"'`,)]+)"
)
# Pinned: a release tag, the build's own tag (config.image_tag(), STARLINK_IMAGE_TAG), or a digest.
PINNED_TAG = re.compile(r"\d+\.\d+\.\d+|\{config\.image_tag\(|<tag>|.*@sha256:[0-9a-f]{64}")


def airflow_files() -> list[Path]:
    files = [p for p in AIRFLOW_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert files
    return files


def test_no_secret_looking_literal_under_airflow() -> None:
    found = []
    for path in airflow_files():
        text = path.read_text(errors="replace")
        for what, pattern in SECRET_PATTERNS.items():
            found += [f"{path.relative_to(REPO)}: {what}: {m.group(0)[:60]}" for m in pattern.finditer(text)]
    assert found == []


def test_the_patterns_catch_what_they_should() -> None:
    leaks = [
        'AWS_ACCESS_KEY_ID = "AKIAABCDEFGHIJKLMNOP"',
        "https://hooks.slack.com/services/T0123/B0123/abc",
        "postgresql://pipeline:hunter2@warehouse:5432/warehouse",
        'password="correct-horse-battery"',
    ]
    for leak in leaks:
        assert any(p.search(leak) for p in SECRET_PATTERNS.values()), leak


def test_every_image_reference_is_pinned() -> None:
    refs = [
        (str(path.relative_to(REPO)), m.group(0))
        for path in airflow_files()
        for m in IMAGE_REF.finditer(path.read_text(errors="replace"))
    ]
    assert any("starlink42k/pipeline:{config.image_tag(" in ref for _, ref in refs)  # the pattern sees ours
    assert [r for r in refs if not PINNED_TAG.fullmatch(IMAGE_REF.fullmatch(r[1]).group(1))] == []
    assert not [path for path in airflow_files() if re.search(r":latest\b", path.read_text(errors="replace"))]


def test_pod_images_are_the_airflow_images_own_tag(monkeypatch) -> None:
    """The pods run the pipeline and dbt images of the build the Airflow image belongs to: the tag
    images/tag.sh gave `make images`, which the Airflow image keeps as STARLINK_IMAGE_TAG."""
    from starlink import kubernetes

    monkeypatch.setenv("STARLINK_IMAGE_TAG", "5eed1234abcd")
    assert (kubernetes.pipeline_image(), kubernetes.dbt_image()) == (
        "starlink42k/pipeline:5eed1234abcd",
        "starlink42k/dbt:5eed1234abcd",
    )
    dockerfile = (REPO / "images" / "airflow" / "Dockerfile").read_text()
    assert re.search(r"^ENV STARLINK_IMAGE_TAG=\$\{IMAGE_TAG\}", dockerfile, re.M)
    assert "FROM starlink42k/dbt:${IMAGE_TAG} AS dbt" in dockerfile
    images_mk = (REPO / "images" / "images.mk").read_text()
    assert "--build-arg IMAGE_TAG=$(IMAGE_TAG)" in images_mk
    assert "IMAGE_TAG ?= $(shell '$(IMAGES_ROOT)/images/tag.sh'" in images_mk


def pipeline_imports(source: str) -> list[str]:
    """The imports of the pipeline package `starlink42k` in a Python source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[0] == "starlink42k"]
    return found


def test_nothing_under_airflow_imports_the_pipeline() -> None:
    sources = [p for p in airflow_files() if p.suffix == ".py"]
    assert len(sources) > 5
    found = [f"{p.relative_to(REPO)} {hit}" for p in sources for hit in pipeline_imports(p.read_text())]
    assert found == []


def test_the_import_check_sees_every_form() -> None:
    for source in ("import starlink42k", "import starlink42k.cli as c", "from starlink42k.settings import X",
                   "def f():\n    from starlink42k import pipeline"):  # fmt: skip
        assert pipeline_imports(source), source
    assert pipeline_imports("import starlink\nfrom . import starlink42k_glue\nx = 'starlink42k'") == []
