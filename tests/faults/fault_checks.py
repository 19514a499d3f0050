"""What every fault case asserts: a refusal is one clear message, and leaves the state as it was;
a recovery leaves the same data as a clean run."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any

from fault_stack import Stack, lake_files


@dataclass(frozen=True)
class GoodRun:
    """What a clean ``run`` of ``ds`` left (the ``good_run`` fixture): later cases compare with it."""

    ds: str
    answer_facts: dict[str, Any]
    snapshot: dict[str, Any]
    stdout: str
    stderr: str


def error_message(result: subprocess.CompletedProcess) -> str:
    """The CLI's one error message: ``error: ...`` (a pipeline failure, exit 1) to the end of stderr,
    or argparse's ``<prog>: error: ...`` line (bad usage, exit 2)."""
    err = result.stderr
    if result.returncode == 2:
        lines = [line for line in err.splitlines() if ": error: " in line]
        assert len(lines) == 1, err[-3000:]
        return lines[0].split(": error: ", 1)[1]
    assert err.count("\nerror: ") == 1, err[-3000:]
    return err.split("\nerror: ", 1)[1].strip()


def assert_refused(stack: Stack, result: subprocess.CompletedProcess, before: dict, *says: str, code: int = 1) -> str:
    """Exit ``code`` with one message naming ``says``, no traceback, and nothing written or changed."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    message = error_message(result)
    for text in says:
        assert text in message, f"{text!r} not in the error message: {message}"
    assert stack.snapshot() == before, "the refused run changed the lake or the warehouse"
    assert stack.leftovers() == []
    return message


def raw_data_files(stack: Stack) -> dict[str, str]:
    """The lake's raw and curated data files (not the manifests, which stamp when they were written)."""
    return {
        key: digest
        for key, digest in lake_files(stack.lake_dir).items()
        if key.startswith(("raw/", "curated/")) and not key.endswith("_manifest.json")
    }


def assert_extract_reruns(stack: Stack, dataset: str, ds: str, before: dict) -> None:
    """A clean rerun of the step succeeds and fetches byte for byte what the good run fetched."""
    stack.replay.clear_faults()
    result = stack.run("extract", dataset, "--ds", ds)
    assert result.returncode == 0, result.stderr[-3000:]
    after = stack.snapshot()
    assert after["warehouse"] == before["warehouse"]
    files = raw_data_files(stack)
    assert files == {k: v for k, v in before["lake"].items() if k in files}
    assert after["lake"].keys() == before["lake"].keys()
    assert stack.leftovers() == []
