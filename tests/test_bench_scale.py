"""The scale benchmark (tests/benchmarks/bench_scale.py) at a tiny size, so that it cannot rot: every
step runs in every warehouse state (the rerun state after a SATCAT load the statement_timeout really
cancelled), the table and the growth exponents come out, and the plans at the largest size hold
nothing that grows faster than n log n."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.pipeline
SCRIPT = Path(__file__).resolve().parent / "benchmarks" / "bench_scale.py"
STEPS = [f"{verb} {name}" for verb in ("extract", "to-csv", "load") for name in ("launches", "starlink", "satcat")]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("bench_scale", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench_dir() -> Iterator[Path]:
    """Not under pytest's tmp root: another pytest session rotating old tmp dirs would delete the
    benchmark's PostgreSQL under it."""
    folder = Path(tempfile.mkdtemp(prefix="starlink42k-bench-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(3600)
def test_the_scale_benchmark_at_a_tiny_size(bench_dir: Path) -> None:
    """Two sizes, fresh and rerun (which starts from the history state's database): four runs step
    by step, a few minutes; `make bench` runs the three states and the whole run at 1x, 3x and 10x."""
    bench = load_benchmark()
    states = ("fresh", "rerun")
    config = bench.Config(scales=[0.03, 0.06], states=states, history=1, history_scale=0.03, whole_run=False)
    results = bench.run_benchmark(config, bench_dir)

    for scale in ("0.03x", "0.06x"):
        assert list(results["states"][scale]) == list(states)
        for state in states:
            steps = results["states"][scale][state]
            assert [k for k in steps if not k.startswith("dbt ")] == [*STEPS, "freshness", "transform", "report"]
            assert "dbt int_satellites__assigned_to_launches" in steps and "dbt tests (all)" in steps
            assert not [k for k, v in steps.items() if "failed" in v], steps
            assert all(v["rss_mib"] > 10 for k, v in steps.items() if not k.startswith("dbt "))
    assert results["hazards"] == {state: {} for state in states}
    assert "left_running_10s_after_stop" not in results  # no step failed or was stopped
    assert isinstance(results["too_fast"], list)  # times this small are start-up and noise: not judged
    assert "int_satellites__assigned_to_launches" in (bench_dir / "plans-0.06x-rerun.txt").read_text()
    table = bench.table(results, config.scales)
    assert "## rerun" in table and "| transform | " in table and "k 0.03x-0.06x" in table
