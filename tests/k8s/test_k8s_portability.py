"""The cluster's scripts and make recipes run on stock macOS: bash 3.2 and BSD tools (issue 16, item 17).

- shellcheck (pinned in pyproject's dev group) finds nothing in the user-facing scripts;
- no construct bash 3.2 lacks (wait -n, associative arrays, case conversion, mapfile, ...) in the
  scripts or in the make recipes, which run under /bin/bash too;
- the scripts and recipes run for real (against the fake cluster) with the GNU-only tools shadowed
  by stubs that refuse: timeout, sha256sum, `readlink -f`, `sed -i` without a suffix, `date -d`,
  `sort -V`. Every refusal is logged; only the documented probe (images/tag.sh asks whether
  sha256sum works, then uses shasum) may appear.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fake_cluster import FakeClusterRun
from k8s_helpers import K8S, ROOT

BIN = Path(sys.executable).parent
SCRIPTS = sorted([*K8S.glob("*.sh"), ROOT / "images" / "tag.sh"])
MAKEFILES = [K8S / "cluster.mk", K8S / "observability.mk", ROOT / "images" / "images.mk"]

# What bash 3.2 (stock macOS) does not have, with the bash version that brought it.
BASH4 = {
    r"\bwait\s+-n\b": "wait -n (4.3)",
    r"\b(declare|local|typeset)\s+-[a-zA-Z]*A": "associative arrays (4.0)",
    r"\b(declare|local|typeset)\s+-[a-zA-Z]*n\b": "namerefs (4.3)",
    r"\$\{[#!]?\w+(\[[^]]*\])?(,,?|\^\^?)[^}]*\}": "case conversion ${var,,} ${var^^} (4.0)",
    r"\b(mapfile|readarray)\b": "mapfile/readarray (4.0)",
    r"\bcoproc\b": "coproc (4.0)",
    r"&>>": "&>> (4.0)",
    r"\|&": "|& (4.0)",
    r";;&|;&\s*$": "case fall-through ;& ;;& (4.0)",
    r"\$\{\w+@[QEPAa]\}": "${var@Q} transformations (4.4)",
    r"\bEPOCH(SECONDS|REALTIME)\b|\bSRANDOM\b": "EPOCHSECONDS/SRANDOM (5.0)",
    r"\bshopt\s+-s\s+(globstar|lastpipe)\b": "globstar/lastpipe (4.0/4.2)",
}


def recipe_lines(makefile: Path) -> list[tuple[int, str]]:
    return [(n, line) for n, line in enumerate(makefile.read_text().splitlines(), 1) if line.startswith("\t")]


def test_shellcheck_finds_nothing_in_the_scripts() -> None:
    proc = subprocess.run(
        [str(BIN / "shellcheck"), "--shell=bash", "--severity=style", *map(str, SCRIPTS)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("path", [*SCRIPTS, *MAKEFILES], ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_bash_32_lacks(path: Path) -> None:
    lines = recipe_lines(path) if path.suffix == ".mk" else list(enumerate(path.read_text().splitlines(), 1))
    found = [
        f"{path.relative_to(ROOT)}:{n}: {what}: {line.strip()}"
        for n, line in lines
        if not line.lstrip().startswith("#")
        for pattern, what in BASH4.items()
        if re.search(pattern, line)
    ]
    assert not found, "\n".join(found)


def test_the_scan_knows_what_it_looks_for() -> None:
    """The patterns find each construct (a scan that matches nothing would pass any script)."""
    samples = ["wait -n", "declare -A x", "local -n ref", 'echo "${name,,}"', "${x^^}", "mapfile -t a",
               "coproc c", "cmd &>> log", "a |& b", "  x) y ;;&", "${v@Q}", "echo $EPOCHSECONDS"]  # fmt: skip
    for sample in samples:
        assert any(re.search(p, sample) for p in BASH4), sample
    for portable in ("wait $pid", "declare x=1", 'echo "${name}"', "${x:-y}", "${#list[@]}", "cmd >> log 2>&1"):
        assert not any(re.search(p, portable) for p in BASH4), portable


# --- for real, with GNU-only tools refused ------------------------------------------------------------


def refusing_stubs(tmp_path: Path) -> tuple[Path, Path]:
    """A directory of stubs that refuse the GNU-only forms (and log it), passing the rest on."""
    stubs, log = tmp_path / "gnu-only", tmp_path / "refused.log"
    stubs.mkdir()
    refuse = (
        f'echo "REFUSED $(basename "$0") $*" >> {log}; echo "$(basename "$0"): GNU-only here (macOS)" >&2; exit 127'
    )
    (stubs / "timeout").write_text(f"#!/bin/sh\n{refuse}\n")
    (stubs / "sha256sum").write_text(f"#!/bin/sh\n{refuse}\n")
    rules = {
        "readlink": '[ "$arg" = -f ]',
        "sed": '[ "$arg" = -i ] || [ "$arg" = --in-place ]',
        "date": '[ "$arg" = -d ] || case "$arg" in --date*) true;; *) false;; esac',
        "sort": 'case "$arg" in -V|--version-sort|-*V*) [ "${arg#--}" = "$arg" ];; *) false;; esac',
    }
    for tool, test in rules.items():
        real = shutil.which(tool)
        (stubs / tool).write_text(
            f'#!/bin/sh\nfor arg in "$@"; do if {test}; then {refuse}; fi; done\nexec {real} "$@"\n'
        )
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    return stubs, log


def refused(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_the_stubs_refuse(tmp_path: Path) -> None:
    stubs, log = refusing_stubs(tmp_path)
    env = {"PATH": f"{stubs}:/usr/bin:/bin"}
    for cmd in (["timeout", "1", "true"], ["sha256sum"], ["readlink", "-f", "."], ["sed", "-i", "s/a/b/", "x"],
                ["date", "-d", "@0"], ["sort", "-V"]):  # fmt: skip
        assert subprocess.run(cmd, env=env, capture_output=True, stdin=subprocess.DEVNULL).returncode == 127, cmd
    assert len(refused(log)) == 6
    for cmd in (["readlink", "/"], ["sed", "-i.bak", "s/a/b/", str(tmp_path / "none")], ["date", "+%s"]):
        assert "REFUSED" not in subprocess.run(cmd, env=env, capture_output=True, text=True).stderr


@pytest.mark.cluster
def test_the_image_tag_is_the_same_without_sha256sum(tmp_path: Path) -> None:
    stubs, log = refusing_stubs(tmp_path)
    tag = ROOT / "images" / "tag.sh"
    gnu = subprocess.run([str(tag)], capture_output=True, text=True, check=True).stdout
    bsd = subprocess.run(
        [str(tag)], capture_output=True, text=True, env={"PATH": f"{stubs}:/usr/bin:/bin"}, timeout=120
    )
    assert bsd.returncode == 0, bsd.stderr
    assert re.fullmatch(r"[0-9a-f]{12}\n", bsd.stdout) and bsd.stdout == gnu
    assert refused(log) == ["REFUSED sha256sum "], "only the probe may ask for sha256sum"


@pytest.mark.cluster
def test_the_cluster_targets_run_without_gnu_tools(fake_cluster: FakeClusterRun, tmp_path: Path) -> None:
    """tools, cluster-up (git pre-flight, build, kind load with its archive fallback, both charts,
    step 8), a failing cluster-up's log export, and cluster-down, with the GNU-only tools refused."""
    stubs, log = refusing_stubs(tmp_path)
    path = f"{stubs}:{fake_cluster.bin_dir}:/usr/local/bin:/usr/bin:/bin"
    logs = tmp_path / "logs"
    ok = fake_cluster.make("cluster-up", "IMAGE_TAG=face0ff1ce00", PATH=path, FAKE_KIND_LOAD_FAILS="1")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "loaded with docker save + kind load image-archive" in ok.stdout
    failing = fake_cluster.make(
        "cluster-up", "IMAGE_TAG=face0ff1ce00", f"CLUSTER_LOGS={logs}", PATH=path, FAKE_UNREADY="airflow-scheduler"
    )
    assert failing.returncode != 0
    assert [p.name for p in logs.glob("describe-*")] == [next(logs.glob("describe-airflow-airflow-scheduler-*")).name]
    down = fake_cluster.make("cluster-down", PATH=path)  # no IMAGE_TAG: images/tag.sh runs
    assert down.returncode == 0, down.stdout + down.stderr
    assert set(refused(log)) <= {"REFUSED sha256sum "}, "only tag.sh's probe may ask for a GNU-only tool"
