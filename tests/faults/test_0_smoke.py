"""The baseline every fault case compares with: a clean run, and a rerun of the same ds, leave the
same state and the same answer, with nothing left over."""

from __future__ import annotations

import pytest
from fault_stack import Stack

DS = "2024-01-31"


@pytest.mark.fault("Kills", "baseline: a clean run and a rerun of the same ds leave identical state")
def test_a_rerun_leaves_identical_state(stack: Stack) -> None:
    first = stack.run("run", "--ds", DS)
    assert first.returncode == 0, first.stderr[-3000:]
    before, answer = stack.snapshot(), stack.answer_facts(DS)
    assert stack.leftovers() == []
    second = stack.run("run", "--ds", DS)
    assert second.returncode == 0, second.stderr[-3000:]
    after = stack.snapshot()
    assert stack.answer_facts(DS) == answer
    assert after["warehouse"].keys() == before["warehouse"].keys()
    assert stack.leftovers() == []
