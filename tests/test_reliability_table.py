"""The README's Reliability table is the fault suite's own output (scripts/reliability_table.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "reliability_table.py"


def load_script():
    spec = importlib.util.spec_from_file_location("reliability_table", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_readme_table_is_what_the_suite_collects() -> None:
    """Every collected fault case is in the README, as held (the suite runs green in `make test-all`: its slow tier)."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--assume-held"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]


def test_outcomes_come_from_the_results_and_every_case_must_have_one(tmp_path: Path) -> None:
    rt = load_script()
    cases = [
        {"test": "tests/faults/test_x.py::test_a", "kind": "Sources", "case": "a 429"},
        {"test": "tests/faults/test_x.py::test_b", "kind": "Secrets", "case": "a | pipe"},
    ]
    results = tmp_path / "results.json"
    results.write_text('{"kinds": [], "cases": [{"test": "tests/faults/test_x.py::test_a", "outcome": "failed"}]}')
    try:
        rt.outcomes(cases, results)
        raise AssertionError("a case without an outcome was accepted")
    except SystemExit as exc:
        assert "no outcome for 1 of the 2" in str(exc)
    results.write_text(
        '{"kinds": [], "cases": [{"test": "tests/faults/test_x.py::test_a", "outcome": "failed"},'
        ' {"test": "tests/faults/test_x.py::test_b", "outcome": "passed"}]}'
    )
    table = rt.render(rt.outcomes(cases, results), ("Sources", "Kills", "Secrets"))
    assert "| Sources | 1 | 0 |" in table and "| Kills | 0 | 0 |" in table and "| Secrets | 1 | 1 |" in table
    assert "- FAILED: a 429 (`test_x.py::test_a`)" in table and "a \\| pipe" in table
    assert "| **All** | **2** | **1** |" in table
