"""k8s/git-preflight.sh asks the remote what git-sync will ask, the way git-sync will: against real
git repositories served over HTTP on loopback (dumb protocol, optional Basic auth), with a user
whose own git configuration has a credential helper that knows the password. git-sync has no
credentials, so a private repository must fail here, not ten minutes later in the cluster."""

from __future__ import annotations

import base64
import functools
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from k8s_helpers import K8S

pytestmark = pytest.mark.cluster

PREFLIGHT = K8S / "git-preflight.sh"
USER, PASSWORD = "dev", "s3cret-pass"


class GitHttp(SimpleHTTPRequestHandler):
    """Serves bare repositories as files (git's dumb HTTP protocol); /private/ needs Basic auth."""

    def do_GET(self) -> None:
        if self.path.startswith("/private/"):
            expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.end_headers()
                return
        self.path = self.path.split("?")[0]
        super().do_GET()

    def log_message(self, *args: object) -> None:
        pass


def bare_repo(path: Path, work: Path) -> None:
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(path)], check=True)
    subprocess.run(["git", "clone", "-q", str(path), str(work)], check=True, capture_output=True)
    (work / "dag.py").write_text("# dags\n")
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "dag.py"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "dags"], check=True)
    subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
    subprocess.run(["git", "-C", str(path), "update-server-info"], check=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("git-http")
    for name in ("public", "private"):
        (root / name).mkdir()
        bare_repo(root / name / "dags.git", root / f"{name}-work")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(GitHttp, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def user_home(tmp_path: Path, server: str) -> Path:
    """A developer whose git knows the private repository's password (credential helper `store`)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[credential]\n\thelper = store\n")
    (home / ".git-credentials").write_text(f"http://{USER}:{PASSWORD}@{server.removeprefix('http://')}\n")
    return home


def preflight(home: Path, repo: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    base = {"HOME": str(home), "PATH": "/usr/local/bin:/usr/bin:/bin", "LC_ALL": "C"}
    return subprocess.run(
        ["bash", str(PREFLIGHT), repo, "main", *args], capture_output=True, text=True, env={**base, **env},
        cwd=home, timeout=60,
    )  # fmt: skip


def test_the_users_own_git_reads_the_private_repository(user_home: Path, server: str) -> None:
    """The premise: with the helper, plain git gets in (so only the check's own isolation stops it)."""
    proc = subprocess.run(
        ["git", "ls-remote", f"{server}/private/dags.git", "main"], capture_output=True, text=True,
        env={"HOME": str(user_home), "PATH": "/usr/bin:/bin", "GIT_TERMINAL_PROMPT": "0"}, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0 and "refs/heads/main" in proc.stdout, proc.stderr


def test_a_private_repository_fails_as_git_sync_would(user_home: Path, server: str) -> None:
    proc = preflight(user_home, f"{server}/private/dags.git")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"git-sync cannot clone {server}/private/dags.git anonymously" in proc.stderr
    assert "GIT_SSH_SECRET=airflow-git-ssh" in proc.stderr


def test_a_public_repository_passes(user_home: Path, server: str) -> None:
    proc = preflight(user_home, f"{server}/public/dags.git")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "has branch main at " in proc.stdout


def test_a_missing_branch_says_to_push_it(user_home: Path, server: str) -> None:
    proc = subprocess.run(
        ["bash", str(PREFLIGHT), f"{server}/public/dags.git", "not-pushed"], capture_output=True, text=True,
        env={"HOME": str(user_home), "PATH": "/usr/bin:/bin"}, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "cannot find branch 'not-pushed'" in proc.stderr


def test_a_remote_that_never_answers_is_stopped_without_gnu_timeout(user_home: Path, tmp_path: Path) -> None:
    """A listener that accepts and says nothing; the script's own watchdog stops git (macOS has no
    `timeout`: a stub that fails stands first on PATH)."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "timeout").write_text("#!/bin/sh\necho 'timeout: GNU-only' >&2\nexit 127\n")
    (stubs / "timeout").chmod(0o755)
    started = time.monotonic()
    try:
        proc = preflight(
            user_home, f"http://127.0.0.1:{silent.getsockname()[1]}/dags.git",
            PATH=f"{stubs}:/usr/local/bin:/usr/bin:/bin", GIT_PREFLIGHT_TIMEOUT="2",
        )  # fmt: skip
    finally:
        silent.close()
    assert proc.returncode == 1
    assert "no answer within 2 s" in proc.stderr
    assert time.monotonic() - started < 20
