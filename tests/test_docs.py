"""The READMEs stay true: generated tables are what the code gives, links point at files that exist,
and the root README stays short and holds its commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# Every README of the project (not vendored or generated folders).
SKIP = {".venv", ".venv-checkov", ".tools", ".charts", "node_modules", "data", "build", "dbt_packages", "target"}
READMES = sorted(p for p in ROOT.rglob("README.md") if not SKIP & set(p.relative_to(ROOT).parts))


def test_generated_tables_are_what_the_code_gives() -> None:
    """README's settings table and the chart's settings schema (scripts/generated.py, `make docs`)."""
    script = ROOT / "scripts" / "generated.py"
    result = subprocess.run([sys.executable, str(script), "--check"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_root_readme_is_short_and_has_the_commands() -> None:
    text = README.read_text()
    assert len(text.splitlines()) <= 300
    for command in ("make run", "make test", "make demo"):
        assert command in text, command
    assert "docs/demo-chart.png" in text and (ROOT / "docs/demo-chart.png").exists()


@pytest.mark.parametrize("readme", READMES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_at_files(readme: Path) -> None:
    """Every relative Markdown link of a README names a file or folder of the repository."""
    for target in re.findall(r"\]\(([^)\s]+)\)", readme.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (readme.parent / target.split("#", 1)[0]).resolve()
        assert path.exists(), f"{readme.relative_to(ROOT)} links to {target}, which does not exist"


def test_every_readme_is_on_the_map() -> None:
    """Each folder README is linked from the README of a folder above it (the root's map, or e.g. the
    library's README for its sample data), so a reader finds every one from the root."""
    for readme in READMES:
        if readme == README:
            continue
        folders = [p for p in readme.parent.parents if p == ROOT or ROOT in p.parents]
        above = [p / "README.md" for p in folders if (p / "README.md").exists()]
        assert any(str(readme.relative_to(a.parent)) in a.read_text() for a in above), (
            f"no README above {readme.relative_to(ROOT)} links to it"
        )
