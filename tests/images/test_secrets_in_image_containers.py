"""No secret baked into the built images (issue 12, Secrets): not in their configuration (ENV, labels,
the build history, where a build argument would show), not in the project's own files inside them,
and no credential-bearing file (.env, SSH or TLS keys, .netrc, .pgpass, AWS credentials) anywhere in
their filesystems. detect-secrets (tests/faults/test_6_secrets.py scans the repository the same way)
reads what it can; file names are matched by pattern.

Third-party packages in the images are not scanned: their test fixtures would drown the findings.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from images_helpers import AIRFLOW, DBT, PIPELINE, Docker

DETECT_SECRETS = str(Path(sys.executable).parent / "detect-secrets")
# The project's own files in each image (images/*/Dockerfile).
OWN_FILES = {
    PIPELINE: ("opt/venv/lib/python3.11/site-packages/starlink42k/",),
    DBT: ("opt/dbt/",),
    AIRFLOW: ("opt/dbt/", "opt/airflow/plugins/", "opt/airflow/dags/"),
}
# Files that hold credentials by their nature; none may ship in an image.
CREDENTIAL_FILES = (
    ".env", "*.env", "id_rsa", "id_ed25519", "id_ecdsa", "*.pem", "*.key", "*.p12", "*.pfx", ".netrc",
    ".pgpass", ".git-credentials", "credentials", ".dockercfg", "config.json", "kubeconfig",
)  # fmt: skip
# Where such names are legitimate: CA bundles and libraries' own test data, not credentials.
ALLOWED_PLACES = (
    "etc/ssl/", "usr/share/ca-certificates/", "usr/lib/ssl/", "usr/local/lib/python3.11/", "opt/venv/lib/",
    "home/airflow/.local/lib/", "usr/share/", "usr/lib/python3", "etc/pki/",
)  # fmt: skip


def detect(paths: list[Path]) -> list[str]:
    if not paths:
        return []
    out = subprocess.run([DETECT_SECRETS, "scan", *map(str, paths)], capture_output=True, text=True, check=True)
    results = json.loads(out.stdout)["results"]
    return [f"{path}:{f['line_number']}: {f['type']}" for path, found in results.items() for f in found]


@pytest.fixture(scope="module", params=[PIPELINE, DBT, AIRFLOW], ids=["pipeline", "dbt", "airflow"])
def exported(request: pytest.FixtureRequest, images: Docker, tmp_path_factory: pytest.TempPathFactory):
    """The image's configuration and its filesystem (as `docker export` gives it), the project's own
    files extracted."""
    image = request.param
    folder = tmp_path_factory.mktemp("image")
    created = subprocess.run([images.binary, "create", image], capture_output=True, text=True, check=True, timeout=120)
    container = created.stdout.strip()
    try:
        tar_path = folder / "fs.tar"
        with tar_path.open("wb") as out:
            subprocess.run([images.binary, "export", container], stdout=out, check=True, timeout=600)
    finally:
        subprocess.run([images.binary, "rm", container], capture_output=True, timeout=120)
    with tarfile.open(tar_path) as tar:
        names = tar.getnames()
        own = [m for m in tar.getmembers() if m.isfile() and m.name.startswith(OWN_FILES[image])]
        tar.extractall(folder / "fs", members=own, filter="data")
    tar_path.unlink()
    history = subprocess.run(
        [images.binary, "history", "--no-trunc", "--format", "{{.CreatedBy}}", image],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    return image, images.inspect(image), history, names, folder


def test_image_configuration_holds_no_secret(exported) -> None:
    image, config, history, _, folder = exported
    text = folder / "config.txt"
    env = config["Config"].get("Env") or []
    labels = config["Config"].get("Labels") or {}
    text.write_text("\n".join([*env, *(f"{k}={v}" for k, v in labels.items()), *history.splitlines()]) + "\n")
    assert detect([text]) == [], f"{image}: a secret in ENV, labels or the build history"
    assert not [e for e in env if e.split("=", 1)[0].endswith(("PASSWORD", "SECRET_ACCESS_KEY", "TOKEN"))], env


def test_project_files_in_the_image_hold_no_secret(exported) -> None:
    image, _, _, _, folder = exported
    files = [p for p in (folder / "fs").rglob("*") if p.is_file() and p.suffix not in (".pyc", ".png", ".gz")]
    assert files, f"{image}: none of {OWN_FILES[image]} found in the image"
    found = detect(files)
    assert found == [], f"{image}: detect-secrets found:\n" + "\n".join(found)


def test_no_credential_file_in_the_image(exported) -> None:
    image, _, _, names, _ = exported
    suspicious = [
        name
        for name in names
        if any(fnmatch.fnmatch(Path(name).name, pattern) for pattern in CREDENTIAL_FILES)
        and not name.startswith(ALLOWED_PLACES)
        and not name.startswith(("proc/", "sys/", "dev/"))
    ]
    assert suspicious == [], f"{image}: files that hold credentials by nature: {suspicious[:20]}"
