"""dbt, run as a child process of the pipeline: the command line, the environment, one dbt per data
dir at a time, and no dbt outliving its step.

The same project runs the same way everywhere: the connection in the variables profiles.yml reads,
the run's settings in the variables dbt_project.yml's vars read (Settings.dbt_env, the one
definition of dbt's vars), and only the run's logical date as `--vars`. In the cluster dbt runs in
its own image through astronomer-cosmos with the same variables.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from . import warehouse as wh
from .context import Context
from .errors import ConfigError, PipelineError
from .log import event, get_logger, is_json

log = get_logger("dbt")
_state_locks = 0  # how many dbt_state_lock blocks this process is inside (it is reentrant)
# How long a stopped step gives dbt to cancel its statements (on SIGINT it terminates its own
# sessions, in about 3 s) before it kills it; its sessions then end within warehouse.CLIENT_CHECK_MS.
DBT_STOP_SECONDS = 10


def _die_with_parent() -> None:
    """In the dbt child, before exec: die when the parent dies, even by SIGKILL (Linux). An orphaned
    dbt would go on rebuilding the marts after its step was killed and its locks were released."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@contextlib.contextmanager
def dbt_state_lock(ctx: Context, wait: float | None = None) -> Iterator[None]:
    """One dbt at a time per DATA_DIR: dbt's target/ (manifest, partial parse, sources.json) is shared
    by every step of this data dir, and two dbt processes writing it at once corrupt each other's.
    An flock: the kernel drops it with its process, killed or not."""
    global _state_locks
    if _state_locks:
        _state_locks += 1
        try:
            yield
        finally:
            _state_locks -= 1
        return
    wait = wh.LOCK_WAIT_SECONDS if wait is None else wait
    state = ctx.settings.data_dir / "dbt"
    state.mkdir(parents=True, exist_ok=True)
    with open(state / ".lock", "a") as fh:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise PipelineError(
                        f"waited {wait:.0f}s for another dbt command using {state} to finish; try again later"
                    ) from None
                time.sleep(0.2)
        _state_locks = 1
        try:
            yield
        finally:
            _state_locks = 0
            fcntl.flock(fh, fcntl.LOCK_UN)


def dbt_executable() -> str:
    beside = Path(sys.executable).parent / "dbt"
    found = str(beside) if beside.exists() else shutil.which("dbt")
    if not found:
        raise ConfigError(
            "dbt is not installed here: `make run` installs it into .venv; in the cluster the "
            "transform runs in the dbt image through Airflow"
        )
    return found


def dbt_invocation(
    ctx: Context, *args: str, ds: str | None = None, extra_vars: dict | None = None
) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of one dbt command (without running it)."""
    project = ctx.settings.dbt_project_dir
    if not (project / "dbt_project.yml").exists():
        raise ConfigError(f"DBT_PROJECT_DIR={project} has no dbt_project.yml")
    state = ctx.settings.data_dir / "dbt"
    dbt_vars = {**({"ds": ds} if ds else {}), **(extra_vars or {})}
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(state / "target"),
        "--log-path",
        str(state / "logs"),
        "--vars",
        json.dumps(dbt_vars),
        "--use-colors" if sys.stderr.isatty() else "--no-use-colors",
    ]
    env = {**os.environ, **ctx.settings.dbt_env(), **ctx.warehouse.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return command, env


def dbt(
    ctx: Context, *args: str, ds: str | None = None, extra_vars: dict | None = None, ok_exit_codes: tuple = (0,)
) -> None:
    """Run one dbt command; its own progress lines stream to stderr."""
    command, env = dbt_invocation(ctx, *args, ds=ds, extra_vars=extra_vars)
    preexec = _die_with_parent if sys.platform == "linux" else None
    with dbt_state_lock(ctx):
        # Its own process group: a Ctrl-C in the terminal reaches the step, which stops dbt once (_stop).
        proc = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
            process_group=0,
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # dbt's own progress lines, one log event each in JSON mode
                _output(line)
            proc.wait()
        except BaseException:  # the step was stopped (SIGTERM, SIGINT) or failed: so is dbt
            _stop(proc)
            raise
        finally:
            proc.stdout.close()
    if proc.returncode not in ok_exit_codes:
        raise PipelineError(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}); the lines above name the model "
            f"or test, and {ctx.settings.data_dir / 'dbt' / 'logs' / 'dbt.log'} has the details"
        )


def _output(line: str) -> None:
    if is_json():
        event(log, "dbt.output", line.rstrip())
    else:
        sys.stderr.write(line)


def _stop(proc: subprocess.Popen) -> None:
    """SIGINT, on which dbt cancels its statements (pg_terminate_backend of its sessions) and exits;
    SIGKILL if it is not gone after DBT_STOP_SECONDS."""
    if proc.poll() is not None:
        return
    event(log, "dbt.stop", "stopping dbt: it cancels its statements", level=logging.WARNING, pid=proc.pid)
    proc.send_signal(signal.SIGINT)
    try:
        rest, _ = proc.communicate(timeout=DBT_STOP_SECONDS)  # read on: dbt must not block on a full pipe
        for line in (rest or "").splitlines(keepends=True):
            _output(line)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
