"""The README stays true: every setting is documented, and its two commands are there."""

from __future__ import annotations

from pathlib import Path

from starlink42k.settings import VARIABLES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_environment_variable_is_in_the_readme_table():
    table = [line for line in README.splitlines() if line.startswith("| `")]
    for name in VARIABLES:
        for part in name.split(" / "):
            assert any(line.startswith(f"| `{part}`") or f"`{part}`" in line.split("|")[1] for line in table), part


def test_the_two_commands_and_the_demo():
    for command in ("make run", "make test", "make demo", "make cluster-up", "make airflow-run"):
        assert command in README, command
    assert "docs/demo-chart.png" in README and (Path(__file__).resolve().parents[1] / "docs/demo-chart.png").exists()
