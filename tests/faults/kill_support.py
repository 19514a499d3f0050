"""The baseline the kill, infrastructure and concurrency cases share: one stack per test module with two
good runs (the previous ds and the ds the cases break), and what each case compares with afterwards."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fault_stack import Stack, invariants, new_database, protected, stack_env, start_watched

from support.replay import ScriptedReplay

PREVIOUS = "2024-01-30"  # the good ds every case must leave intact
DS = "2024-01-31"  # the ds the cases kill, break and rerun
INJECT = str(Path(__file__).parent / "inject")  # sitecustomize.py: FAULT_FSYNC_MATCH


@dataclass
class Baseline:
    stack: Stack
    answer: dict[str, Any]  # answer_facts(DS) of the good run
    previous_answer: bytes  # answer.json of PREVIOUS, byte for byte
    guarded: dict[str, Any]  # protected(stack, DS): what no run of DS may change
    seconds: dict[str, float] = field(default_factory=dict)  # measured phases of a good run of DS

    def assert_intact(self) -> None:
        """Readers see only complete data, and the previous ds is exactly as it was."""
        assert invariants(self.stack) == []
        assert protected(self.stack, DS) == self.guarded
        assert self.stack.answer(PREVIOUS) == self.previous_answer

    def assert_rerun(self, *steps: tuple[str, ...]) -> None:
        """Each step (CLI args) succeeds; then the answer is the good run's, nothing is left over."""
        for step in steps:
            done = self.stack.run(*step)
            assert done.returncode == 0, f"{step}: {done.stderr[-3000:]}"
        assert self.stack.answer_facts(DS) == self.answer
        assert self.stack.leftovers() == []
        self.assert_intact()


def with_injection(env: dict[str, str], **faults: str) -> dict[str, str]:
    """The env of a CLI process that gets the fault-injection sitecustomize."""
    path = os.pathsep.join(p for p in (INJECT, env.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, **faults}


@contextmanager
def baseline(root: Path, server_url: str, api_docs: dict, satcat: list[dict], *, url: str | None = None, **env: str):
    """A stack under ``root`` (its own database on ``server_url``, or ``url``), with PREVIOUS and DS run."""
    warehouse_url = url or new_database(server_url)
    with ScriptedReplay(spacex=api_docs, satcat=satcat) as replay:
        stack = Stack(
            env={**stack_env(root, warehouse_url, replay), **env},
            lake_dir=root / "lake",
            warehouse_url=warehouse_url,
            replay=replay,
        )
        first = stack.run("run", "--ds", PREVIOUS)
        assert first.returncode == 0, first.stderr[-3000:]
        started = time.monotonic()
        good = start_watched(stack, "run", "--ds", DS)
        assert good.wait(600) == 0, good.stderr()[-3000:]
        seconds = {
            "run": time.monotonic() - started,
            "loaded": good.at("load.done"),
            "transform": good.at("transform.done") - good.at("load.done"),
        }
        try:
            yield Baseline(
                stack=stack,
                answer=stack.answer_facts(DS),
                previous_answer=stack.answer(PREVIOUS),
                guarded=protected(stack, DS),
                seconds=seconds,
            )
        finally:
            stack.stop_all()
