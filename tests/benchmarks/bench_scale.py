"""Benchmark: every step of a run at 1x, 3x and 10x today's catalogue, in three warehouse states.

    make bench BENCH=scale                                            # 1x, 3x, 10x; one run of each
    BENCH_SCALES=1,10 BENCH_RUNS=3 .venv/bin/python tests/benchmarks/bench_scale.py

Today's size is the sample data's (205 launches, 3,655 SpaceX satellites, 12,037 SATCAT records);
tests/support/catalogue.py builds the same shape at any multiple of it. Each size is served by the
API replay (`starlink42k replay`, its own process) and run step by step, each step a CLI process
as Airflow runs it (extract, to-csv, load per dataset; freshness; transform; report), in three
warehouse states:

  fresh    a new database;
  history  a database that holds 3 earlier ds of today's size, each a whole run (BENCH_HISTORY);
  rerun    the history database after a run of the same ds failed in its SATCAT load
           (the database's statement_timeout cancelled it, as in issue 22), then reset.

Then a whole `starlink42k run` (what `make run` does) on a new database. For each step: its time
(from its first to its last log event: interpreter start-up excluded), its process's CPU time (the
CLI's and dbt's, beyond the CLI's start-up: what other load on the machine does not inflate), the
growth exponent of both between sizes (log(t2/t1) / log(n2/n1): 1 is linear, 2 quadratic), its
peak RSS (the CLI and, for dbt, its child, from wait4), and for the transform each dbt model's time
(run_results.json).
At the largest size every model's plan is EXPLAINed and checked for what grows faster than
n log n: a NOT IN / correlated subplan evaluated row by row, a nested loop over two large inputs.

Results are printed and written to $DATA_DIR/bench/scale.json. Not a test: numbers vary by
machine (tests/test_bench_scale.py runs it at a tiny size so that it cannot rot).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from starlink42k import warehouse as wh
from starlink42k.datasets import NAMES as DATASETS
from starlink42k.settings import Settings, variable_names

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support.catalogue import catalogue, describe
from support.net import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).parent / "starlink42k")
DS = "2026-11-21"
STATES = ("fresh", "history", "rerun")
# Growth faster than this between two sizes is flagged (n log n from 1x to 10x is about 1.1).
MAX_EXPONENT = 1.3
# Below this a step's time is mostly fixed cost, and its exponent says nothing.
MIN_SECONDS = 0.5
# A nested loop whose two inputs multiply to more rows than this is quadratic work.
MAX_NESTED_LOOP_ROWS = 5_000_000
# A step still running after this long is stopped (SIGTERM) and reported as such.
STEP_TIMEOUT = float(os.environ.get("BENCH_STEP_TIMEOUT", "900"))


# --- one step: a CLI process, timed from its own log events, its peak RSS from wait4 ---------------


@dataclass
class Step:
    name: str
    seconds: float  # first to last log event of the process
    wall: float  # process start to exit
    rss_mib: float  # peak RSS of the process and its waited-for children (dbt)
    cpu_s: float  # CPU time of the process and its children (dbt): what load from others does not inflate
    returncode: int  # None: stopped after STEP_TIMEOUT
    stderr: str = field(repr=False)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


# Each step runs under this small launcher, which reports the step's exit code and peak RSS (wait4):
# Linux counts a child's RSS before its exec in its ru_maxrss, so a CLI forked straight from the
# benchmark (which holds a catalogue) would report the benchmark's size. It passes SIGTERM on.
LAUNCHER = """
import os, signal, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signum))
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, usage.ru_utime + usage.ru_stime)
"""


def run_step(env: dict[str, str], name: str, *args: str, check: bool = True) -> Step:
    """``starlink42k <args>`` to its end, or stopped (SIGTERM, then SIGKILL 30 s later) after
    STEP_TIMEOUT seconds."""
    started = time.perf_counter()
    command = [sys.executable, "-c", LAUNCHER, CLI, "-v", "--log-format", "json", *args]
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=err, text=True, process_group=0)
        stopped = False
        try:
            try:
                out, _ = proc.communicate(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                stopped = True
                proc.send_signal(signal.SIGTERM)
                try:
                    out, _ = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and the CLI (dbt dies with it)
                    out, _ = proc.communicate()
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        wall = time.perf_counter() - started
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    code, rss_kib, cpu = out.split() if out.strip() else ("-9", "0", "0")
    stamps = []
    for line in stderr.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            stamps.append(datetime.fromisoformat(json.loads(line)["ts"]).timestamp())
    seconds = wall if stopped or not stamps else max(stamps) - min(stamps)
    step = Step(
        name,
        round(seconds, 3),
        round(wall, 3),
        round(int(rss_kib) / 1024, 1),
        round(float(cpu), 2),
        None if stopped else int(code),
        stderr,
    )
    if stopped:
        print(f"  {name}: stopped after {STEP_TIMEOUT:.0f}s", file=sys.stderr, flush=True)
    elif check and step.returncode != 0:
        raise RuntimeError(f"{name} ({' '.join(args)}) failed: {stderr[-3000:]}")
    return step


def model_times(path: Path) -> dict[str, float]:
    """Each dbt model's build time in dbt's run_results.json, and all its tests together."""
    if not path.exists():  # a transform stopped before dbt wrote it
        return {}
    times: dict[str, float] = {}
    for r in json.loads(path.read_text())["results"]:
        kind, _, name = r["unique_id"].split(".", 2)
        if kind in ("model", "test", "unit_test"):
            key = f"dbt {name.rsplit('.', 1)[-1]}" if kind == "model" else "dbt tests (all)"
            times[key] = round(times.get(key, 0.0) + r["execution_time"], 3)
    return times


def pipeline(env: dict[str, str], ds: str) -> dict[str, Step]:
    """Every step of a run of ``ds``, one process each, in `run`'s order, up to one that fails."""
    commands = [(f"{verb} {name}", (verb, name)) for verb in ("extract", "to-csv", "load") for name in DATASETS]
    commands += [(verb, (verb,)) for verb in ("freshness", "transform", "report")]
    steps: dict[str, Step] = {}
    for label, args in commands:
        steps[label] = step = run_step(env, label, *args, "--ds", ds, check=False)
        if not step.ok:
            if step.returncode is not None:
                print(f"  {label} failed: {step.stderr[-2000:]}", file=sys.stderr, flush=True)
            break
    return steps


# --- the warehouse states ------------------------------------------------------------------------


@dataclass
class Config:
    scales: list[float]  # multiples of today's catalogue
    runs: int = 1  # runs of each state, for min and median
    states: tuple[str, ...] = STATES
    history: int = 3  # earlier ds in the history and rerun states
    history_scale: float = 1.0  # their size
    whole_run: bool = True  # also time `starlink42k run` on a fresh database

    @classmethod
    def from_env(cls) -> Config:
        env = os.environ
        return cls(
            scales=[float(s) for s in env.get("BENCH_SCALES", "1,3,10").split(",")],
            runs=int(env.get("BENCH_RUNS", "1")),
            states=tuple(env.get("BENCH_STATES", ",".join(STATES)).split(",")),
            history=int(env.get("BENCH_HISTORY", "3")),
            history_scale=float(env.get("BENCH_HISTORY_SCALE", "1")),
        )


class Bench:
    def __init__(self, workdir: Path, config: Config):
        self.workdir, self.config = workdir, config
        self.server = wh.start_embedded(workdir / "pg").url
        self.base_env = {k: v for k, v in os.environ.items() if k not in variable_names() and k != "PGOPTIONS"}
        self._history: Path | None = None
        self._replays: dict[float, tuple[subprocess.Popen, str]] = {}

    def close(self) -> None:
        for proc, _ in self._replays.values():
            proc.terminate()
            proc.wait(30)
        wh.stop_embedded(self.workdir / "pg")

    def replay(self, scale: float) -> str:
        """The URL of a replay of the catalogue at ``scale``, in a process of its own."""
        if scale not in self._replays:
            folder = self.workdir / f"sources-{scale:g}x"
            folder.mkdir()
            data = catalogue(scale)
            for name, docs in (*data["spacex"].items(),):
                (folder / f"spacex_{name}.json").write_text(json.dumps(docs))
            (folder / "celestrak_satcat.json").write_text(json.dumps(data["satcat"]))
            print(f"catalogue {scale:g}x: {describe(data)}", file=sys.stderr, flush=True)
            port = free_port()
            proc = subprocess.Popen(
                [CLI, "replay", "--data", str(folder), "--port", str(port)],
                env=self.base_env,
                stdout=subprocess.DEVNULL,
            )
            wait_for_port(port, 120)
            self._replays[scale] = (proc, f"http://127.0.0.1:{port}")
        return self._replays[scale][1]

    def database(self, template: str | None = None) -> str:
        name = f"b_{len(list(self.workdir.iterdir()))}_{time.monotonic_ns() % 10**9}"
        with psycopg.connect(self.server, autocommit=True) as conn:
            conn.execute(f'create database "{name}"' + (f' template "{template}"' if template else ""))
        return self.server.replace("/postgres?", f"/{name}?")

    def env(self, root: Path, url: str, scale: float) -> dict[str, str]:
        replay = self.replay(scale)
        return {
            **self.base_env,
            "DATA_DIR": str(root / "data"),
            "LAKE_URL": (root / "lake").as_uri(),
            "WAREHOUSE_URL": url,
            "SPACEX_API_URL": f"{replay}/v4",
            "CELESTRAK_URL": replay,
            "DBT_PROJECT_DIR": str(REPO / "dbt"),
        }

    def history(self) -> Path:
        """A database (the template ``history``) and lake holding earlier ds of today's size."""
        if self._history is None:
            root = self.workdir / "history"
            url = self.database()
            env = self.env(root, url, self.config.history_scale)
            print(f"history: {self.config.history} earlier ds ...", file=sys.stderr, flush=True)
            for day in range(self.config.history):
                ds = (date.fromisoformat(DS) - timedelta(days=self.config.history + 1 - day)).isoformat()
                run_step(env, f"run {ds}", "run", "--ds", ds)
            with psycopg.connect(self.server, autocommit=True) as conn:
                conn.execute(f'alter database "{dbname(url)}" rename to "history"')
            self._history = root
        return self._history

    def stack(self, state: str, scale: float) -> tuple[dict[str, str], Path]:
        """A new stack in ``state``, ready for a run of DS at ``scale``."""
        root = Path(tempfile.mkdtemp(dir=self.workdir, prefix=f"{state}-{scale:g}x-"))
        if state == "fresh":
            return self.env(root, self.database(), scale), root
        history = self.history()
        for part in ("lake", "data"):
            shutil.copytree(history / part, root / part)
        env = self.env(root, self.database(template="history"), scale)
        if state == "rerun":
            fail_satcat_load(env, self.server)
        return env, root


def dbname(url: str) -> str:
    return url.split("?", 1)[0].rsplit("/", 1)[1]


def fail_satcat_load(env: dict[str, str], server: str) -> None:
    """Issue 22's state: a run of DS whose SATCAT load the database's statement_timeout cancelled, the
    other datasets loaded (and unpublished: the ds is whole only with SATCAT). The timeout is lowered
    until the load fails (a small catalogue loads within 100 ms)."""
    for name in DATASETS:
        run_step(env, "extract", "extract", name, "--ds", DS)
        run_step(env, "to-csv", "to-csv", name, "--ds", DS)
    db = dbname(env["WAREHOUSE_URL"])

    def load_the_others() -> None:
        for name in DATASETS:
            if name != "satcat":
                run_step(env, "load", "load", name, "--ds", DS)

    load_the_others()
    with psycopg.connect(server, autocommit=True) as conn:
        try:
            for timeout_ms in (100, 30, 10, 3, 1):
                conn.execute(f"alter database \"{db}\" set statement_timeout = '{timeout_ms}ms'")
                failed = run_step(env, "load satcat", "load", "satcat", "--ds", DS, check=False)
                if failed.returncode:
                    assert "statement timeout" in failed.stderr, failed.stderr[-2000:]
                    print(f"  the SATCAT load failed at statement_timeout={timeout_ms}ms", file=sys.stderr)
                    return
                # It loaded, and so published DS whole: undo that (every dataset's partition of DS and
                # its record), load the others again, and try a shorter timeout.
                conn.execute(f'alter database "{db}" reset statement_timeout')
                with psycopg.connect(env["WAREHOUSE_URL"], autocommit=True) as db_conn:
                    db_conn.execute("delete from raw.load_log where ds = %s", (DS,))
                    for name in DATASETS:
                        db_conn.execute(f"drop table if exists raw.{name}_{DS.replace('-', '')}")
                load_the_others()
            raise RuntimeError("the SATCAT load never failed, even at statement_timeout=1ms")
        finally:
            conn.execute(f'alter database "{db}" reset statement_timeout')


# --- plans ---------------------------------------------------------------------------------------


def plan_hazards(plan: dict[str, Any]) -> list[str]:
    """What in a plan grows faster than n log n with its inputs."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        for key in ("Filter", "Join Filter", "Hash Cond", "Merge Cond"):
            text = node.get(key, "")
            if re.search(r"(?<!hashed )SubPlan \d+", text):
                found.append(f"{node['Node Type']}: {key} {text} runs a subplan for each row")
        children = node.get("Plans", [])
        if node["Node Type"] == "Nested Loop" and len(children) == 2:
            outer, inner = (c["Plan Rows"] for c in children)
            parameterized = any("Index" in c["Node Type"] for c in children[1:])
            # a few outer rows (one as-of date, two fits) times a table is linear in the table
            if not parameterized and min(outer, inner) > 100 and outer * inner > MAX_NESTED_LOOP_ROWS:
                found.append(f"Nested Loop over {outer:,} x {inner:,} estimated rows")
        for child in children:
            walk(child)

    walk(plan)
    return found


def explain_models(env: dict[str, str], out: Path) -> dict[str, list[str]]:
    """EXPLAIN each model's compiled SELECT (as the warehouse now plans it); the plans go to ``out``."""
    compiled = Path(env["DATA_DIR"]) / "dbt" / "target" / "compiled" / "starlink42k" / "models"
    hazards: dict[str, list[str]] = {}
    plans: list[str] = []
    with psycopg.connect(env["WAREHOUSE_URL"], autocommit=True) as conn:
        for path in sorted(compiled.rglob("*.sql")):
            query = path.read_text()
            try:
                (plan,) = conn.execute(f"explain (format json) {query}").fetchone()[0]
            except psycopg.Error as exc:  # a model dbt did not get to build
                plans.append(f"-- {path.stem}: cannot EXPLAIN: {exc}\n")
                continue
            hazards[path.stem] = plan_hazards(plan["Plan"])
            text = "\n".join(r[0] for r in conn.execute(f"explain {query}"))
            plans.append(f"-- {path.stem}\n{text}\n")
    out.write_text("\n".join(plans))
    return hazards


# --- the report ----------------------------------------------------------------------------------


def exponent(t1: float, t2: float, n1: float, n2: float) -> float | None:
    if min(t1, t2) < MIN_SECONDS or n1 == n2:
        return None
    return round(math.log(t2 / t1) / math.log(n2 / n1), 2)


def summarize(samples: list[dict[str, Step | float]], startup_cpu: float = 0.0) -> dict[str, dict[str, Any]]:
    """min and median of each step's seconds over the runs, its least CPU time beyond the CLI's
    start-up, its largest peak RSS, and whether a run of it failed or had to be stopped."""
    out: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(k for sample in samples for k in sample):
        values = [s[key] for s in samples if key in s]
        seconds = [v.seconds if isinstance(v, Step) else v for v in values]
        out[key] = {"min_s": min(seconds), "median_s": round(statistics.median(seconds), 3)}
        steps = [v for v in values if isinstance(v, Step)]
        if steps:
            out[key]["rss_mib"] = max(v.rss_mib for v in steps)
            out[key]["cpu_s"] = round(max(0.0, min(v.cpu_s for v in steps) - startup_cpu), 2)
            if failed := [v for v in steps if not v.ok]:
                out[key]["failed"] = "stopped" if any(v.returncode is None for v in failed) else "failed"
    return out


def leftover_sessions(server: str, url: str) -> int:
    """The sessions a stopped step left in its database after 10 s; then they are ended, so that the
    next state starts clean."""
    db = dbname(url)
    query = "select count(*) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()"
    with psycopg.connect(server, autocommit=True) as conn:
        deadline = time.monotonic() + 10
        while (left := conn.execute(query, (db,)).fetchone()[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (db,))
    return left


def growth(va: dict | None, vb: dict | None, a: float, b: float) -> tuple[float | None, float | None]:
    """The exponents of a step's min wall time and min CPU time from size a to size b."""
    if not va or not vb:
        return None, None
    cpu = exponent(va["cpu_s"], vb["cpu_s"], a, b) if "cpu_s" in va and "cpu_s" in vb else None
    return exponent(va["min_s"], vb["min_s"], a, b), cpu


def table(results: dict[str, Any], scales: list[float]) -> str:
    """One markdown table per state: per size, min/median seconds, the process's CPU seconds and peak
    RSS (MiB); the growth exponents between sizes of its time (and of its CPU time)."""
    pairs = list(itertools.pairwise(scales))
    lines = []
    for state in [*STATES, "whole run"]:
        rows: dict[str, dict[float, dict[str, Any]]] = {}
        for scale in scales:
            for key, v in results["states"][f"{scale:g}x"].get(state, {}).items():
                rows.setdefault(key, {})[scale] = v
        if not rows:
            continue
        head = [f"{s:g}x: s min/med, cpu s (MiB)" for s in scales] + [f"k {a:g}x-{b:g}x (cpu)" for a, b in pairs]
        lines += ["", f"## {state}", "| step | " + " | ".join(head) + " |", "|---" * (1 + len(head)) + "|"]
        for key, by_scale in rows.items():
            cells = []
            for s in scales:
                v = by_scale.get(s)
                cpu = f", {v['cpu_s']:.1f}" if v and "cpu_s" in v else ""
                rss = f" ({v['rss_mib']:.0f})" if v and "rss_mib" in v else ""
                failed = f" **{v['failed']}**" if v and "failed" in v else ""
                cells.append(f"{v['min_s']:.2f}/{v['median_s']:.2f}{cpu}{rss}{failed}" if v else "-")
            for a, b in pairs:
                k, k_cpu = growth(by_scale.get(a), by_scale.get(b), a, b)
                text = "" if k is None else (f"**{k}**" if k > MAX_EXPONENT else f"{k}")
                cells.append(text + ("" if k_cpu is None else f" ({k_cpu})"))
            lines.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run_benchmark(config: Config, bench_dir: Path) -> dict[str, Any]:
    """Every state at every scale; results (also in bench_dir/scale.json, after each state), plans
    at the largest scale in bench_dir/plans-*.txt."""
    top = max(config.scales)
    results: dict[str, Any] = {"config": asdict(config), "load_average": os.getloadavg(), "states": {}}
    with tempfile.TemporaryDirectory(dir=bench_dir) as tmp:
        bench = Bench(Path(tmp), config)
        try:
            # The CPU time a step spends before its work (interpreter, imports), taken off each step's.
            startup = min(run_step(bench.base_env, "start-up", "--version").cpu_s for _ in range(3))
            results["startup_cpu_s"] = startup
            for scale in config.scales:
                by_state = results["states"][f"{scale:g}x"] = {}
                for state in [*config.states, *(["whole run"] if config.whole_run else [])]:
                    samples = []
                    for i in range(config.runs):
                        print(f"{scale:g}x {state} (run {i + 1}/{config.runs}) ...", file=sys.stderr, flush=True)
                        env, root = bench.stack("fresh" if state == "whole run" else state, scale)
                        results_of_dbt = Path(env["DATA_DIR"]) / "dbt" / "target" / "run_results.json"
                        results_of_dbt.unlink(missing_ok=True)  # the history's, or the failed attempt's
                        if state == "whole run":
                            whole = run_step(env, "run", "run", "--ds", DS, check=False)
                            whole.seconds = whole.wall  # what `make run` takes, start-up included
                            steps = {"starlink42k run": whole}
                        else:
                            steps = pipeline(env, DS)
                        samples.append({**steps, **model_times(results_of_dbt)})
                        if not all(step.ok for step in steps.values()):
                            left = leftover_sessions(bench.server, env["WAREHOUSE_URL"])
                            results.setdefault("left_running_10s_after_stop", {})[f"{scale:g}x {state}"] = left
                        elif scale == top and i == 0 and state != "whole run":
                            plans = bench_dir / f"plans-{scale:g}x-{state}.txt"
                            results.setdefault("hazards", {})[state] = {
                                m: h for m, h in explain_models(env, plans).items() if h
                            }
                        shutil.rmtree(root, ignore_errors=True)
                    by_state[state] = summarize(samples, startup)
                    (bench_dir / "scale.json").write_text(json.dumps(results, indent=1))
        finally:
            bench.close()
    results["load_average_after"] = os.getloadavg()
    results["too_fast"] = too_fast(results, config.scales)
    (bench_dir / "scale.json").write_text(json.dumps(results, indent=1))
    return results


def too_fast(results: dict[str, Any], scales: list[float]) -> list[str]:
    """Steps that grew faster than MAX_EXPONENT between two sizes, by their CPU time where it is
    large enough to measure (the machine's other load inflates wall time, not CPU time), else by
    their wall time; and steps that failed."""
    found = []
    for a, b in itertools.pairwise(scales):
        for state, steps in results["states"][f"{b:g}x"].items():
            for key, vb in steps.items():
                k, k_cpu = growth(results["states"][f"{a:g}x"].get(state, {}).get(key), vb, a, b)
                judged = k_cpu if k_cpu is not None else k
                if "failed" in vb:
                    found.append(f"{b:g}x {state}: {key} {vb['failed']}")
                elif judged is not None and judged > MAX_EXPONENT:
                    found.append(f"{state}: {key} grew as n^{judged} from {a:g}x to {b:g}x")
    return found


def main() -> int:
    config = Config.from_env()
    bench_dir = Settings.from_env().data_dir / "bench"
    bench_dir.mkdir(parents=True, exist_ok=True)
    results = run_benchmark(config, bench_dir)
    top = max(config.scales)
    print(table(results, config.scales))
    print(f"\nload average before {results['load_average']}, after {results['load_average_after']}")
    print(f"CPU seconds are beyond the CLI's start-up ({results['startup_cpu_s']} s, taken off each step's)")
    for state, models in results.get("hazards", {}).items():
        for model, found in models.items():
            print(f"PLAN at {top:g}x, {state}: {model}: " + "; ".join(found))
    if not any(results.get("hazards", {}).values()):
        print(f"plans at {top:g}x: nothing that grows faster than n log n (plans in {bench_dir})")
    for where, left in results.get("left_running_10s_after_stop", {}).items():
        print(f"{where}: a step failed or was stopped; {left} of its sessions still ran 10 s later")
    for line in results["too_fast"]:
        print(f"TOO FAST: {line}")
    print(f"written to {bench_dir / 'scale.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
