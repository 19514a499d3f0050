"""checkov over the rendered chart, k8s/ and the Dockerfiles, from its own locked environment.

checkov conflicts with uv.lock, so it lives in .venv-checkov (requirements/checkov.txt, with
hashes); the scan runs when that environment exists and is skipped, saying how to create it,
when it does not.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from k8s_helpers import CHART, ROOT

CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
SCRIPT = ROOT / "tests" / "k8s" / "run_checkov.sh"
CONFIG = ROOT / ".checkov.yaml"
REQUIREMENTS = ROOT / "requirements" / "checkov.txt"


def test_scan_has_no_unjustified_finding(helm_bin: Path) -> None:
    if not CHECKOV.exists():
        pytest.skip(
            "no .venv-checkov: python3 -m venv .venv-checkov && "
            ".venv-checkov/bin/pip install --require-hashes -r requirements/checkov.txt"
        )
    env = {**os.environ, "HELM": str(helm_bin), "CHECKOV": str(CHECKOV)}
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, f"checkov findings:\n{proc.stdout}\n{proc.stderr}"
    assert re.search(r"Failed checks: 0\b", proc.stdout), proc.stdout


def test_every_skip_in_the_config_is_justified() -> None:
    lines = CONFIG.read_text().splitlines()
    skipped = yaml.safe_load(CONFIG.read_text())["skip-check"]
    assert skipped
    for check in skipped:
        (index,) = [i for i, line in enumerate(lines) if line.strip() == f"- {check}"]
        comment = []
        for line in reversed(lines[:index]):
            if not line.strip().startswith("#"):
                break
            comment.append(line)
        assert len(" ".join(comment)) > 80, f"{check} is skipped without a reason in {CONFIG.name}"


def test_every_skip_on_an_object_is_justified() -> None:
    """Skips in chart annotations and Dockerfile comments carry a reason too."""
    for template in (CHART / "templates").glob("*.yaml"):
        for check, reason in re.findall(r'checkov\.io/skip\d+:\s*"(CKV\w+)=([^"]*)"', template.read_text()):
            assert len(reason) > 40, f"{template.name}: {check} skipped without a real reason"
    for dockerfile in (ROOT / "images").rglob("Dockerfile"):
        for check, reason in re.findall(r"checkov:skip=(CKV\w+):?(.*)", dockerfile.read_text()):
            assert len(reason.strip()) > 20, f"{dockerfile}: {check} skipped without a real reason"


def test_checkov_requirements_are_pinned_with_hashes() -> None:
    text = REQUIREMENTS.read_text()
    assert re.search(r"^checkov==3\.3\.30 \\$", text, re.MULTILINE)
    requirements = re.findall(r"^([A-Za-z0-9_.\-\[\]]+)==(\S+) \\$", text, re.MULTILINE)
    assert len(requirements) > 20
    blocks = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.MULTILINE)
    for block in blocks:
        if "==" in block.split("\n", 1)[0]:
            assert "--hash=sha256:" in block, block.split("\n", 1)[0]
