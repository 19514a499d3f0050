"""`starlink42k backup` / `restore` (make backup, make restore): the round trip with the embedded
warehouse must give the same answers; the rest against a test database and a local lake."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from starlink42k import backup as backups
from starlink42k import cli
from starlink42k import lake as lakes
from starlink42k.replay import ReplayServer
from starlink42k.warehouse import embedded_url
from support import spacex_docs as docs

CLI = Path(sys.executable).parent / "starlink42k"
OLD, NEW = "2024-01-30", "2024-01-31"
RAW_TABLES = ("raw.launches", "raw.starlink", "raw.load_log")


def tree(root: Path) -> dict[str, str]:
    """Every file under root and its sha256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def raw_rows(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {t: conn.execute(f"select * from {t} order by 1, 2, 3").fetchall() for t in RAW_TABLES}


# --- the round trip, embedded: what `make backup` and `make restore` run --------------------------


def starlink42k(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process, as make runs it (the embedded server outlives each one)."""
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.pipeline  # whole runs of its own
def test_round_trip_with_the_embedded_warehouse_gives_each_ds_its_answer_again(tmp_path: Path, api_docs: dict) -> None:
    """The issue's check: two ds run, the lake and the warehouse lost and restored. `report` for the older
    ds is refused (the marts are the newer ds's); the documented recipe, `transform` then `report` for
    that ds from the restored lake and warehouse, nothing fetched, gives each ds its answer.json again,
    byte for byte (charts/starlink-platform/README.md, Backups and restore)."""
    data = tmp_path / "data"
    lake, pgdata = data / "lake", data / "warehouse"
    env = {**os.environ, "DATASETS": "launches,starlink", "SPACEX_PAGE_SIZE": "100", "HTTP_TIMEOUT": "5"}
    assert "WAREHOUSE_URL" not in env and env["DATA_DIR"] == str(data)  # the embedded warehouse, in DATA_DIR
    older = docs.constellation(starlink_launches=10, other_launches=6, satellites=300)  # the snapshots differ
    answers = {}
    try:
        for ds, spacex in ((OLD, older), (NEW, api_docs)):
            with ReplayServer(spacex=spacex) as server:
                proc = starlink42k({**env, "SPACEX_API_URL": server.spacex_url}, "run", "--ds", ds)
                assert proc.returncode == 0, proc.stderr[-3000:]
            answers[ds] = (lake / f"reports/starlink/ds={ds}/answer.json").read_bytes()
        assert answers[OLD] != answers[NEW]
        lake_before, rows_before = tree(lake), raw_rows(embedded_url(pgdata))
        assert {(r[0], str(r[1])) for r in rows_before["raw.load_log"]} == {
            (d, ds) for d in ("launches", "starlink") for ds in (OLD, NEW)
        }

        made = starlink42k(env, "backup")
        assert made.returncode == 0, made.stderr
        assert "lake: " in made.stderr and "warehouse: " in made.stderr and "is complete" in made.stderr
        (backup,) = backups.complete_backups(data / "backups")
        assert made.stdout.strip() == f"backup: {backup}"

        # Lose both: the embedded server stopped and its data directory deleted, the lake folder too.
        assert starlink42k(env, "warehouse", "stop").returncode == 0
        shutil.rmtree(pgdata)
        shutil.rmtree(lake)

        restored = starlink42k(env, "restore")
        assert restored.returncode == 0, restored.stderr
        assert f"restored: {backup}" in restored.stdout and "in one transaction" in restored.stderr
        # The lake byte for byte (raw snapshots, CSVs, reports); both ds' partitions and the load log row for row.
        assert tree(lake) == lake_before
        assert raw_rows(embedded_url(pgdata)) == rows_before

        # Nothing is fetched from here on: the sources point at a port nobody listens on.
        offline = {**env, "SPACEX_API_URL": "http://127.0.0.1:9/v4", "CELESTRAK_URL": "http://127.0.0.1:9"}
        # The restored marts are NEW's: a report of OLD would describe NEW, so it is refused, saying why.
        proc = starlink42k(offline, "report", "--ds", OLD)
        assert proc.returncode == 1
        assert f"error: refusing to report ds {OLD}: the marts were built for ds {NEW} at " in proc.stderr
        assert f"run `starlink42k transform --ds {OLD}`, then `starlink42k report --ds {OLD}`" in proc.stderr
        assert tree(lake) == lake_before  # the old answer untouched
        # The recipe, for each ds in turn: its answer.json again, byte for byte.
        for ds in (OLD, NEW):
            for step in ("transform", "report"):
                proc = starlink42k(offline, step, "--ds", ds)
                assert proc.returncode == 0, proc.stderr[-3000:]
            assert (lake / f"reports/starlink/ds={ds}/answer.json").read_bytes() == answers[ds], ds
    finally:
        starlink42k(env, "warehouse", "stop")


# --- against a test database (WAREHOUSE_URL) and a local lake ------------------------------------


@pytest.fixture
def loaded(pipeline_env: dict[str, str]) -> dict[str, str]:
    """Both datasets extracted, converted and loaded for one ds (no dbt)."""
    for dataset in ("launches", "starlink"):
        for step in ("extract", "to-csv", "load"):
            assert cli.main([step, dataset, "--ds", NEW]) == 0
    return pipeline_env


def lake_of(env: dict[str, str]) -> Path:
    return Path(env["LAKE_URL"].removeprefix("file://"))


def test_restore_into_a_warehouse_url(loaded: dict[str, str], tmp_path: Path, capsys) -> None:
    url, lake = loaded["WAREHOUSE_URL"], lake_of(loaded)
    lake_before, rows_before = tree(lake), raw_rows(url)
    assert cli.main(["backup"]) == 0
    (backup,) = backups.complete_backups(tmp_path / "data" / "backups")
    manifest = json.loads((backup / "manifest.json").read_bytes())
    with psycopg.connect(url) as conn:
        server_major = conn.info.server_version // 10000
    # A pg_dump at least as new as the server (one on PATH may be older: it is passed over).
    assert manifest["warehouse"]["pg_dump_major"] >= server_major
    assert manifest["warehouse"]["url"] == url  # no password in this URL; a password would be masked
    assert {f["path"] for f in manifest["files"]} == {f"lake/{k}" for k in lake_before} | {"warehouse.dump"}
    assert all(os.stat(backup / f["path"]).st_mode & 0o222 == 0 for f in manifest["files"])  # read-only

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema raw cascade")
    shutil.rmtree(lake)
    capsys.readouterr()
    assert cli.main(["restore", "--from", str(backup)]) == 0
    assert tree(lake) == lake_before
    assert raw_rows(url) == rows_before


def test_restore_refuses_data_without_force_and_replaces_it_with(loaded: dict[str, str], capsys) -> None:
    url, lake = loaded["WAREHOUSE_URL"], lake_of(loaded)
    assert cli.main(["backup"]) == 0
    lake_before, rows_before = tree(lake), raw_rows(url)
    # After the backup: a new partition, an object that depends on a backed-up table, a new lake file.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from raw.load_log where dataset = 'launches'")
        conn.execute("create view raw.extra as select * from raw.launches")
        conn.execute("create schema scratch")
        conn.execute("create table scratch.keep_me (id int)")
    (lake / "later.txt").write_text("written after the backup")
    capsys.readouterr()

    assert cli.main(["restore"]) == 1
    err = capsys.readouterr().err
    assert f"the lake {lake} holds {len(lake_before) + 1} files" in err
    assert "tables and views: a restore would replace them. Pass --force" in err and "nothing was restored" in err
    assert (lake / "later.txt").exists()  # untouched

    assert cli.main(["restore", "--force"]) == 0
    assert tree(lake) == lake_before  # the lake is the backup's, the later file gone
    assert raw_rows(url) == rows_before
    with psycopg.connect(url) as conn:
        relations = {r[0] for r in conn.execute("select schemaname || '.' || viewname from pg_views")}
        assert "raw.extra" not in relations  # the backed-up schema replaced whole
        assert conn.execute("select count(*) from scratch.keep_me").fetchone() == (0,)  # other schemas left alone


def test_a_damaged_backup_is_refused_before_anything_changes(loaded: dict[str, str], tmp_path: Path, capsys) -> None:
    lake = lake_of(loaded)
    assert cli.main(["backup"]) == 0
    (backup,) = backups.complete_backups(tmp_path / "data" / "backups")
    victim = next((backup / "lake" / "raw").rglob("launches.json"))
    victim.chmod(0o644)
    victim.write_bytes(victim.read_bytes().replace(b"Starlink", b"Starlonk", 1))
    (lake / "later.txt").write_text("x")
    lake_before = tree(lake)
    capsys.readouterr()
    assert cli.main(["restore", "--force"]) == 1
    err = capsys.readouterr().err
    assert f"the backup {backup} is damaged: lake/raw/spacex/launches/ds={NEW}/launches.json does not match" in err
    assert "nothing was restored" in err
    assert tree(lake) == lake_before


def test_failed_replay_restores_nothing(loaded: dict[str, str], monkeypatch, capsys) -> None:
    """The dump replays in one transaction and the lake is swapped in only after it: a failure
    leaves the lake and the warehouse as they were."""
    url, lake = loaded["WAREHOUSE_URL"], lake_of(loaded)
    assert cli.main(["backup"]) == 0
    (lake / "later.txt").write_text("x")
    lake_before, rows_before = tree(lake), raw_rows(url)
    with psycopg.connect(url, autocommit=True) as conn:  # the restore's role may not drop this one
        conn.execute("create role backup_test_other")
        conn.execute("create table raw.not_mine (id int)")
        conn.execute("alter table raw.not_mine owner to backup_test_other")
        conn.execute("create role backup_test_restorer login")
        conn.execute("grant all on schema raw to backup_test_restorer")
    try:
        monkeypatch.setenv("WAREHOUSE_URL", url.replace("postgresql://postgres@", "postgresql://backup_test_restorer@"))
        capsys.readouterr()
        assert cli.main(["restore", "--force"]) == 1
        err = capsys.readouterr().err
        assert "failed (rolled back)" in err and "nothing was restored" in err
        assert tree(lake) == lake_before
        assert raw_rows(url) == rows_before
        assert not list(lake.parent.glob(".lake.*"))  # no staged copy left behind
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop table raw.not_mine")
            conn.execute("drop owned by backup_test_restorer")
            conn.execute("drop role backup_test_restorer")
            conn.execute("drop role backup_test_other")


# --- backups without a pipeline run: the lake written directly, an empty test database ------------


@pytest.fixture
def lake_env(monkeypatch: pytest.MonkeyPatch, warehouse_url: str, tmp_path: Path) -> Path:
    lake = tmp_path / "lake"
    monkeypatch.setenv("LAKE_URL", lake.as_uri())
    monkeypatch.setenv("WAREHOUSE_URL", warehouse_url)
    write(lakes.LocalLake(lake), b"first")
    return lake


def write(lake: lakes.LocalLake, body: bytes, ds: str = NEW) -> None:
    lakes.write_partition(lake, lakes.raw_key("spacex", "launches", ds), body, {"ds": ds}, "application/json")


def test_retention_keeps_the_newest_and_links_unchanged_files(lake_env: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("BACKUP_KEEP", "2")
    made = []
    for n in range(3):
        write(lakes.LocalLake(lake_env), f"snapshot {n}".encode(), ds=f"2024-02-0{n + 1}")
        assert cli.main(["backup"]) == 0
        made.append(backups.complete_backups(tmp_path / "data" / "backups")[-1])
    kept = backups.complete_backups(tmp_path / "data" / "backups")
    assert kept == made[1:]
    key = f"lake/{lakes.raw_key('spacex', 'launches', NEW)}"
    assert (kept[0] / key).stat().st_ino == (kept[1] / key).stat().st_ino  # unchanged: one copy, two links
    new = f"lake/{lakes.raw_key('spacex', 'launches', '2024-02-03')}"
    assert not (kept[0] / new).exists() and (kept[1] / new).read_bytes() == b"snapshot 2"
    assert json.loads((kept[1] / "manifest.json").read_bytes())["lake"]["linked"] == 6  # 3 partitions, 2 files


def test_a_partition_rewritten_during_the_copy_is_copied_again(lake_env: Path, tmp_path: Path, monkeypatch) -> None:
    real_copy, rewritten = backups._copy, []

    def copy_then_rewrite(src: Path, dst: Path) -> tuple[str, int]:
        result = real_copy(src, dst)
        if src.name == lakes.MANIFEST and not rewritten:  # the manifest copied, then a run rewrites the partition
            write(lakes.LocalLake(lake_env), b"second, longer body")
            rewritten.append(src)
        return result

    monkeypatch.setattr(backups, "_copy", copy_then_rewrite)
    assert cli.main(["backup"]) == 0
    (backup,) = backups.complete_backups(tmp_path / "data" / "backups")
    folder = backup / "lake" / lakes.raw_key("spacex", "launches", NEW).rsplit("/", 1)[0]
    manifest = json.loads((folder / lakes.MANIFEST).read_bytes())
    assert (folder / "launches.json").read_bytes() == b"second, longer body"
    assert manifest["sha256"] == hashlib.sha256(b"second, longer body").hexdigest()


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"LAKE_URL": "s3://starlink-lake"}, ["backup"], "the chart's backup CronJobs copy the MinIO lake"),
        ({"LAKE_URL": "s3://starlink-lake"}, ["restore"], "is not a local folder: `starlink42k restore`"),
        ({}, ["restore"], "no backup in "),
        ({"BACKUP_KEEP": "0"}, ["backup"], "BACKUP_KEEP='0' must be between 1 and 1000"),
    ],
)
def test_clear_refusals(lake_env: Path, monkeypatch, capsys, env: dict, args: list, message: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert cli.main(args) == 1
    assert message in capsys.readouterr().err


def test_a_missing_pg_dump_is_named(lake_env: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(backups, "_bundled_bin", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main(["backup"]) == 1
    err = capsys.readouterr().err
    assert "pg_dump of PostgreSQL 16 or later are needed, found none on PATH" in err
    assert "apt-get install postgresql-client-16" in err
    assert [p.name for p in (tmp_path / "data" / "backups").iterdir()] == [".lock"]  # no half backup


def test_an_older_pg_dump_on_path_is_passed_over(tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (fake / "pg_dump").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}{os.pathsep}{os.environ['PATH']}")
    tools = backups.pg_tools(("pg_dump",), 16, embedded=False)
    assert tools["pg_dump"].parent != fake
    with pytest.raises(backups.BackupError, match=r"found only .*/bin/pg_dump \(version 9\)"):
        backups.pg_tools(("pg_dump",), 99, embedded=False)


def test_make_targets_pass_their_options() -> None:
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        ["make", "-n", "-C", str(repo), "restore", "FROM=/some/backup", "FORCE=1"], capture_output=True, text=True
    ).stdout
    assert "starlink42k restore --from /some/backup --force" in out
    out = subprocess.run(["make", "-n", "-C", str(repo), "backup"], capture_output=True, text=True).stdout
    assert "starlink42k backup" in out


def test_a_partition_damaged_in_the_lake_is_copied_as_it_is(lake_env: Path, tmp_path: Path, capsys) -> None:
    data = lake_env / lakes.raw_key("spacex", "launches", NEW)
    data.write_bytes(b"not what the manifest says")  # stable, but torn in the lake itself
    assert cli.main(["backup"]) == 0
    assert "does not match its manifest in the lake itself" in capsys.readouterr().err
    (backup,) = backups.complete_backups(tmp_path / "data" / "backups")
    assert (backup / "lake" / lakes.raw_key("spacex", "launches", NEW)).read_bytes() == b"not what the manifest says"
