"""Each image on its own, under the pods' restrictions (read-only root filesystem, /tmp writable,
non-root, no capabilities): entrypoints, users, what is installed, the baked dbt manifest."""

from __future__ import annotations

import json
import tomllib

import pytest
from images_helpers import (
    AIRFLOW,
    AIRFLOW_UID,
    DBT,
    IMAGE_TAG,
    IMAGE_TESTS,
    NOT_REQUESTED,
    PIPELINE,
    PIPELINE_UID,
    ROOT,
    Docker,
    lock_versions,
    output,
)

if not IMAGE_TESTS:
    pytest.skip(NOT_REQUESTED, allow_module_level=True)

# The official image's entrypoint waits for the metadata database unless told not to.
AIRFLOW_ENV = {"CONNECTION_CHECK_MAX_COUNT": "0"}
# pyproject.toml's version: what `starlink42k --version` says
PACKAGE_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MANIFEST_SHA = "import hashlib, os, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"


# --- pipeline ------------------------------------------------------------------------------------


def test_pipeline_image_entrypoint_is_the_cli(images: Docker) -> None:
    proc = images.run(PIPELINE, "--version", user=PIPELINE_UID)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.strip() == f"starlink42k {PACKAGE_VERSION}"
    default = images.run(PIPELINE)  # CMD ["--help"]
    assert default.returncode == 0, output(default)
    assert "extract" in default.stdout and "to-csv" in default.stdout and "load" in default.stdout


def test_pipeline_image_config(images: Docker) -> None:
    config = images.inspect(PIPELINE)["Config"]
    assert config["Entrypoint"] == ["starlink42k"]
    assert config["Cmd"] == ["--help"]
    assert config["User"] == f"{PIPELINE_UID}:{PIPELINE_UID}", "numeric, so runAsNonRoot can be checked"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"].startswith("/tmp") and env["DATA_DIR"].startswith("/tmp")
    assert env["MPLCONFIGDIR"].startswith("/tmp")


def test_pipeline_image_ships_only_the_runtime_dependencies(images: Docker) -> None:
    script = (
        "import importlib.util as u, starlink42k.replay as r;"
        "print(sorted(m for m in ('dbt', 'airflow', 'pgserver', 'pytest', 'moto') if u.find_spec(m)));"
        "print(sorted(p.name for p in r.SAMPLE_DIR.glob('*.gz')));"
        "import matplotlib.pyplot, boto3, psycopg, requests; print(psycopg.pq.__impl__)"
    )
    proc = images.run(PIPELINE, "-c", script, entrypoint="python", user=PIPELINE_UID)
    assert proc.returncode == 0, output(proc)
    absent, samples, psycopg_impl = proc.stdout.strip().splitlines()[-3:]
    assert absent == "[]"
    assert "spacex_launches.json.gz" in samples and "spacex_starlink.json.gz" in samples
    assert psycopg_impl == "binary"


def test_pipeline_image_runs_as_an_arbitrary_uid(images: Docker) -> None:
    """Kubernetes may pick any non-root uid; nothing may depend on /etc/passwd or a home."""
    proc = images.run(PIPELINE, "--version", user="123456:0")
    assert proc.returncode == 0, output(proc)


# --- dbt -----------------------------------------------------------------------------------------


def test_dbt_image_has_no_entrypoint(images: Docker) -> None:
    """cosmos' arguments are ["dbt", "build", ...]: an ENTRYPOINT would make that `dbt dbt build`."""
    config = images.inspect(DBT)["Config"]
    assert not config.get("Entrypoint")
    assert config["Cmd"] == ["dbt", "--version"]
    assert config["User"] == f"{PIPELINE_UID}:{PIPELINE_UID}"
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["DBT_PROFILES_DIR"] == env["DBT_PROJECT_DIR"] == config["WorkingDir"] == "/opt/dbt"
    assert env["DBT_TARGET_PATH"].startswith("/tmp/") and env["DBT_LOG_PATH"].startswith("/tmp/")


def test_dbt_version(images: Docker) -> None:
    proc = images.run(DBT, "dbt", "--version", user=PIPELINE_UID)
    assert proc.returncode == 0, output(proc)
    assert "installed: 1.11." in proc.stdout and "postgres: 1.11." in proc.stdout


def test_dbt_parses_and_lists_on_a_read_only_root(images: Docker) -> None:
    """No database: profiles.yml's env_var() defaults render; output goes to /tmp only."""
    proc = images.run(
        DBT,
        "sh",
        "-c",
        "dbt parse --no-partial-parse && test -s /tmp/dbt/target/manifest.json "
        "&& dbt ls --resource-type model --output name",
        user=PIPELINE_UID,
    )
    assert proc.returncode == 0, output(proc)
    models = set(proc.stdout.split())
    assert {"stg_spacex__launches", "stg_spacex__starlink", "fct_starlink_forecast"} <= models


def test_dbt_manifest_is_baked(images: Docker) -> None:
    script = (
        "import json; m = json.load(open('/opt/dbt/target/manifest.json'));"
        "print(m['metadata']['project_name'], m['metadata']['dbt_version'],"
        " sum(n['resource_type'] == 'model' for n in m['nodes'].values()))"
    )
    proc = images.run(DBT, "python", "-c", script, user=PIPELINE_UID)
    assert proc.returncode == 0, output(proc)
    project, dbt_version, models = proc.stdout.split()
    assert project == "starlink42k" and dbt_version.startswith("1.11.") and int(models) > 5


# --- Airflow -------------------------------------------------------------------------------------


def test_airflow_version(images: Docker) -> None:
    proc = images.run(AIRFLOW, "airflow", "version", env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.strip().splitlines()[-1] == "3.3.2"


def test_airflow_user_and_home(images: Docker) -> None:
    config = images.inspect(AIRFLOW)["Config"]
    assert config["User"] == AIRFLOW_UID
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["AIRFLOW_HOME"] == "/opt/airflow"
    assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    proc = images.run(AIRFLOW, "bash", "-c", "id -u; id -g; id -un", env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.split() == [AIRFLOW_UID, "0", "airflow"]


def test_airflow_has_the_docs_login_plugin(images: Docker) -> None:
    script = "import starlink_docs_auth, sys; print(sys.modules['starlink_docs_auth'].__file__)"
    proc = images.run(AIRFLOW, "bash", "-c", f'cd /opt/airflow/plugins && python -c "{script}"', env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.strip().endswith("/opt/airflow/plugins/starlink_docs_auth.py")


def test_airflow_has_cosmos_and_the_providers(images: Docker) -> None:
    script = (
        "import json, importlib.metadata as md;"
        "import cosmos, airflow.providers.cncf.kubernetes, airflow.providers.slack, airflow.providers.amazon;"
        "print(json.dumps({d: md.version(d) for d in ('astronomer-cosmos', 'apache-airflow-providers-amazon',"
        " 'apache-airflow-providers-cncf-kubernetes', 'apache-airflow-providers-slack', 'apache-airflow')}))"
    )
    proc = images.run(AIRFLOW, "python", "-c", script, env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)
    versions = json.loads(proc.stdout.strip().splitlines()[-1])
    assert versions["apache-airflow"] == "3.3.2"
    for name in ("apache-airflow-providers-amazon", "astronomer-cosmos", "apache-airflow-providers-cncf-kubernetes"):
        assert versions[name] in lock_versions()[name], name  # the image runs what uv.lock pins


def test_airflow_dependencies_are_consistent(images: Docker) -> None:
    proc = images.run(AIRFLOW, "python", "-m", "pip", "check", env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)


def test_airflow_manifest_is_the_dbt_images(images: Docker) -> None:
    """The DAG renders the graph the dbt pods run: the same manifest, at the same project path."""
    airflow = images.run(
        AIRFLOW, "bash", "-c", f'python -c "{MANIFEST_SHA}" "$STARLINK_DBT_MANIFEST"; ls /opt/dbt/dbt_project.yml',
        env=AIRFLOW_ENV,
    )  # fmt: skip
    assert airflow.returncode == 0, output(airflow)
    airflow_sha, project_file = airflow.stdout.split()[-2:]
    dbt = images.run(DBT, "python", "-c", MANIFEST_SHA, "/opt/dbt/target/manifest.json")
    assert dbt.returncode == 0, output(dbt)
    assert airflow_sha == dbt.stdout.split()[-1]
    assert project_file == "/opt/dbt/dbt_project.yml"


@pytest.mark.parametrize("image", [PIPELINE, DBT, AIRFLOW])
def test_image_is_labelled_with_its_tag(images: Docker, image: str) -> None:
    labels = images.inspect(image)["Config"].get("Labels") or {}
    assert labels.get("org.opencontainers.image.version") == IMAGE_TAG


def test_airflow_image_knows_its_build_tag(images: Docker) -> None:
    """The DAG asks for pipeline and dbt pods of this tag (STARLINK_IMAGE_TAG)."""
    proc = images.run(AIRFLOW, "bash", "-c", 'echo "$STARLINK_IMAGE_TAG"', env=AIRFLOW_ENV)
    assert proc.returncode == 0, output(proc)
    assert proc.stdout.split()[-1] == IMAGE_TAG
