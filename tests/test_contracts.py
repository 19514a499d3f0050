"""Facts shared across layers, each defined once: these tests read the one definition and check that
every other layer follows it instead of keeping a copy.

- the datasets: src/starlink42k/datasets.py; dbt's sources mark the same tables (meta.dataset) and
  document only columns the dataset has (the DAG reads the marks: tests/airflow/test_airflow_contracts.py)
- the settings: settings.Settings' fields; every variable the library reads is declared there (and so in
  the README, dbt's environment, the chart's schema, and cleared by the tests' fixture, which iterates them)
- the lake and data-folder defaults: settings.py; the Makefiles and the DAG ask the CLI
- the image tag: images/tag.sh; no file spells a tag of ours
(Secret and ConfigMap names: tests/k8s/test_k8s_contracts.py.)
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from starlink42k import datasets
from starlink42k.settings import Settings, settings, variable_names

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "starlink42k"


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [REPO / line for line in out.splitlines() if (REPO / line).is_file()]


def dbt_sources() -> dict[str, dict]:
    """source table name -> its yml entry, for every table of every dbt source."""
    tables = {}
    for path in (REPO / "dbt" / "models").rglob("_*__sources.yml"):
        for source in yaml.safe_load(path.read_text())["sources"]:
            for table in source["tables"]:
                tables[f"{source['name']}.{table['name']}"] = table
    return tables


def test_dbt_sources_mark_exactly_the_pipelines_datasets() -> None:
    marked = {t["meta"]["dataset"]: name for name, t in dbt_sources().items() if "dataset" in t.get("meta", {})}
    assert set(marked) == set(datasets.NAMES)
    for dataset, source_table in marked.items():
        assert source_table.endswith(f".{dataset}"), "raw.<dataset> is the table load writes"


def test_dbt_sources_document_only_columns_the_datasets_have() -> None:
    for table in dbt_sources().values():
        name = table.get("meta", {}).get("dataset")
        if name:
            documented = {c["name"] for c in table.get("columns", [])} - {"ds"}
            assert documented <= set(datasets.get(name).column_names), name


GOOD_COLUMN = '{ name = "a", type = "text", path = "a", convert = "text", required = false }'


@pytest.mark.parametrize(
    ("column", "problem"),
    [
        ('{ name = "a", type = "text", path = "a", convert = "text" }', "missing required"),
        (
            '{ name = "a", type = "text", path = "a", convert = "text", required = false, nullable = 1 }',
            "extra nullable",
        ),
        ('{ name = "a", type = "integer", path = "a", convert = "text", required = false }', "cannot fill type"),
        ('{ name = "a", type = "int4", path = "a", convert = "integer", required = false }', "unknown type"),
        ('{ name = "a", type = "text", path = "a", convert = "textual", required = false }', "unknown 'textual'"),
        ('{ name = "A", type = "text", path = "a", convert = "text", required = false }', "not a lowercase"),
        ('{ name = "a", type = "text", path = "a..b", convert = "text", required = false }', "malformed path"),
    ],
)
def test_a_column_table_that_does_not_hold_together_is_refused(column: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        datasets.load(f'[x]\nsource = "s"\nkeys = []\ncolumns = [{column}]\n')


def test_a_dataset_without_a_key_or_with_a_stray_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[x\]: missing source"):
        datasets.load(f"[x]\nkeys = []\ncolumns = [{GOOD_COLUMN}]\n")
    with pytest.raises(ValueError, match=r"\[x\]: extra owner"):
        datasets.load(f'[x]\nsource = "s"\nowner = "me"\nkeys = []\ncolumns = [{GOOD_COLUMN}]\n')
    with pytest.raises(ValueError, match="key 'b' is not a column"):
        datasets.load(f'[x]\nsource = "s"\nkeys = ["b"]\ncolumns = [{GOOD_COLUMN}]\n')
    assert datasets.load(f'[x]\nsource = "s"\nkeys = ["a"]\ncolumns = [{GOOD_COLUMN}]\n')["x"].column_names == ["a"]


def test_dbt_reads_the_pipelines_settings_with_the_same_defaults() -> None:
    """dbt_project.yml defines dbt's vars from the settings marked dbt (the one definition of dbt's
    vars): each is read there with the pipeline's default, and a user may set it in the cluster."""
    project = (REPO / "dbt" / "dbt_project.yml").read_text()
    for spec in settings():
        if not spec.dbt or spec.name in ("STALE_AFTER_DAYS", "SATCAT_ERROR_AFTER_DAYS"):  # read by the sources
            continue
        assert spec.chart, f"{spec.name} reaches dbt in every mode, so the cluster's settings must carry it"
        if spec.name == "DATASETS":
            # DATASETS unset or empty in dbt means every dataset, as the pipeline's default does
            assert "env_var('DATASETS', '')" in project and spec.default == ",".join(datasets.NAMES)
            continue
        read = re.search(rf"env_var\('{spec.name}', '([^']*)'\)", project)
        assert read, f"dbt_project.yml does not read {spec.name}"
        assert read.group(1) == spec.default, spec.name
    sources = "".join(p.read_text() for p in (REPO / "dbt" / "models").rglob("_*__sources.yml"))
    assert "env_var('STALE_AFTER_DAYS', '30')" in sources and "env_var('SATCAT_ERROR_AFTER_DAYS', '45')" in sources


# Variables the library reads that belong to other tools, not to the pipeline's settings.
FOREIGN = {
    "DBT_TARGET_PATH": "where dbt writes (publish-docs reads it; the dbt image and pods set it)",
    "KUBERNETES_SERVICE_HOST": "set by Kubernetes in every pod: JSON logs by default there",
    "PGOPTIONS": "libpq's session options: dbt's get the pipeline's after them (Warehouse.dbt_env)",
    "STARLINK42K_ERROR_FILE": "set by Airflow's local operator: where the CLI leaves a failure's reason",
}


def test_every_variable_the_library_reads_is_a_documented_setting() -> None:
    """Settings.from_env reads every declared field; any other os.environ read of the library is a
    declared external setting (LOG_FORMAT) or another tool's variable (FOREIGN)."""
    environ = re.compile(r"""environ(?:\.get\(|\[)\s*["']([A-Z][A-Z0-9_]+)["']""")
    read = set()
    for path in SRC.rglob("*.py"):
        read |= set(environ.findall(path.read_text()))
    assert "LOG_FORMAT" in read, "the scan found the reads"
    assert read - set(FOREIGN) <= set(variable_names())
    fields = Settings.from_env({}).effective()
    assert set(variable_names()) - set(fields) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "LOG_FORMAT"}


def test_the_lake_and_data_folder_defaults_live_in_settings_only(tmp_path: Path) -> None:
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    assert settings.lake_url == (tmp_path / "lake").as_uri()
    cli = subprocess.run(
        [str(Path(sys.executable).parent / "starlink42k"), "config", "LAKE_URL"],
        env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert cli.stdout.strip() == (tmp_path / "lake").as_uri()
    for path in [REPO / "Makefile", *REPO.glob("*/*.mk"), *(REPO / "airflow").rglob("*.py")]:
        text = path.read_text()
        assert not re.search(r"^\s*DATA_DIR\s*\??=", text, re.M), f"{path.name} defines DATA_DIR"
        assert "/lake" not in text and '"data"' not in text, f"{path.name} spells a default path"


# An image of ours with a tag spelled out: `starlink42k/pipeline:abc`, not `:$(IMAGE_TAG)` & co.
OUR_IMAGE_WITH_A_LITERAL_TAG = re.compile(
    r"starlink42k/(?:pipeline|dbt|airflow):(?![$<{]|IMAGE_TAG\b)[A-Za-z0-9_][\w.-]*"
)


def test_no_file_spells_a_tag_of_our_images() -> None:
    # Tests name made-up tags of their own to check that a given tag flows through.
    allowed = {REPO / "tests" / "test_contracts.py", *(REPO / "tests").rglob("test_*.py")}
    found = [
        f"{path.relative_to(REPO)}: {m.group(0)}"
        for path in tracked_files()
        if path not in allowed and path.suffix not in {".png", ".gz", ".lock"}
        for m in OUR_IMAGE_WITH_A_LITERAL_TAG.finditer(path.read_text(errors="replace"))
    ]
    assert found == []


def test_the_image_tag_follows_the_content(tmp_path: Path) -> None:
    """images/tag.sh: the same files give the same tag; a changed file a new one."""
    copy = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(copy)], check=True)
    subprocess.run(["cp", "-r", str(REPO / "images"), str(copy)], check=True)  # the working tree's tag.sh

    def tag() -> str:
        out = subprocess.run([str(copy / "images" / "tag.sh")], capture_output=True, text=True, check=True)
        assert re.fullmatch(r"[0-9a-f]{12}", out.stdout.strip()), out.stdout
        return out.stdout.strip()

    first = tag()
    assert tag() == first
    (copy / "dbt" / "models" / "marts" / "dim_launches.sql").write_text("select 1\n")
    changed = tag()
    assert changed != first
    (copy / "scratch.txt").write_text("not an input of any image\n")
    assert tag() == changed
