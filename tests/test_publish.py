"""A ds is all or nothing to readers: its datasets load unpublished, and it is published, all of them
in one transaction, once every dataset of DATASETS is loaded (publish.py, warehouse.py); the marts
say which ds they were built for, and `report` refuses another (marts_build). Real PostgreSQL, and
real dbt for the marts."""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest

from starlink42k import cli, datasets, ingest
from starlink42k import lake as lakes
from starlink42k import warehouse as wh
from starlink42k.context import Context
from starlink42k.dbt_runner import dbt
from starlink42k.errors import WarehouseError
from starlink42k.settings import Settings
from support import satcat_docs as sc
from support import spacex_docs as docs
from support.replay import ReplayServer

DS1, DS2 = "2024-01-30", "2024-01-31"
ALL = ("launches", "starlink", "satcat")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ctx(tmp_path: Path, warehouse_url: str) -> Context:
    env = {"DATA_DIR": str(tmp_path), "LAKE_URL": (tmp_path / "lake").as_uri(), "WAREHOUSE_URL": warehouse_url}
    return Context(Settings.from_env(env))


def documents(n: int) -> dict[str, list[dict]]:
    api = docs.constellation(starlink_launches=4, other_launches=2, satellites=n)
    satcat = [
        sc.record(t["NORAD_CAT_ID"], t["OBJECT_ID"], t["LAUNCH_DATE"], decay_date=t["DECAY_DATE"])
        for t in (d["spaceTrack"] for d in api["starlink"])
    ]
    return {**api, "satcat": satcat}


def stage(ctx: Context, ds: str, n: int, names: tuple[str, ...] = ALL) -> None:
    """What extract writes for ``ds`` (``n`` satellites), straight into the lake; then the real to-csv."""
    docs_of = documents(n)
    for name in names:
        source = datasets.get(name).source
        body = ingest.raw_json(docs_of[name])
        lakes.write_partition(ctx.lake, lakes.raw_key(source, name, ds), body, {"record_count": n}, "application/json")
        ingest.to_csv(ctx, name, ds)


def rows(ctx: Context, query: str, *params) -> list[tuple]:
    with psycopg.connect(ctx.warehouse.url) as conn:
        return conn.execute(query, params or None).fetchall()


def whole(ds: str, n: int) -> dict[str, tuple[str, int]]:
    """What readers see of a ds staged with ``n`` satellites (``documents`` has 7 launches)."""
    return {"launches": (ds, 7), "starlink": (ds, n), "satcat": (ds, n)}


def readers_see(ctx: Context, ds: str) -> dict[str, tuple[str | None, int]]:
    """Per dataset, what every reader reads for ``ds``: the newest published snapshot on or before it
    (the rule of dbt's staging, macros/snapshot_ds.sql), and its rows in raw.<dataset>."""
    seen = {}
    for name in ALL:
        ((snapshot,),) = rows(ctx, "select max(ds)::text from raw.load_log where dataset = %s and ds <= %s", name, ds)
        ((count,),) = rows(ctx, f"select count(*) from raw.{name} where ds = %s", snapshot)
        seen[name] = (snapshot, count)
    return seen


def test_a_ds_is_published_only_once_every_dataset_is_loaded(ctx: Context) -> None:
    stage(ctx, DS1, 40)
    for name in ALL:
        ingest.load(ctx, name, DS1)
    before = readers_see(ctx, DS2)
    assert before == whole(DS1, 40)

    stage(ctx, DS2, 60)
    for name in ALL[:2]:
        ingest.load(ctx, name, DS2)
        assert readers_see(ctx, DS2) == before  # the previous ds, whole
        assert rows(ctx, "select count(*) from raw.load_log where ds = %s", DS2) == [(0,)]
    assert rows(ctx, "select dataset, rows from raw.load_pending order by 1") == [("launches", 7), ("starlink", 60)]
    assert rows(ctx, "select count(*) from raw.launches_20240131__pending") == [(7,)]

    ingest.load(ctx, "satcat", DS2)  # the last one publishes all three at once
    assert readers_see(ctx, DS2) == whole(DS2, 60)
    published = rows(ctx, "select dataset, published_at from raw.load_log where ds = %s order by 1", DS2)
    assert [d for d, _ in published] == sorted(ALL) and len({t for _, t in published}) == 1  # one transaction
    assert rows(ctx, "select count(*) from raw.load_pending") == [(0,)]
    assert rows(ctx, "select count(*) from pg_tables where tablename ~ '__(pending|loading)$'") == [(0,)]


def test_a_failed_load_says_what_was_kept_and_a_rerun_completes_it(ctx: Context) -> None:
    stage(ctx, DS1, 40)
    for name in ALL:
        ingest.load(ctx, name, DS1)
    stage(ctx, DS2, 60)
    ingest.load(ctx, "launches", DS2)
    ingest.load(ctx, "starlink", DS2)
    key = lakes.curated_key("celestrak", "satcat", DS2)
    good = ctx.lake.get_bytes(key)
    broken = good.replace(b"\n4400", b"\nnot-a-number", 1)
    lakes.write_partition(ctx.lake, key, broken, {"rows": 60}, "text/csv")

    with pytest.raises(WarehouseError) as err:
        ingest.load(ctx, "satcat", DS2)
    assert str(err.value).endswith(
        f"; nothing of this load was kept. ds {DS2} is not published; loaded and unpublished: launches, starlink; "
        f"not loaded: satcat. Readers see only ds published before {DS2}; a rerun "
        f"(`starlink42k load satcat --ds {DS2}`) completes and publishes it."
    )
    assert readers_see(ctx, DS2) == whole(DS1, 40)

    ingest.to_csv(ctx, "satcat", DS2)  # the CSV repaired: the rerun of the failed dataset publishes the ds
    ingest.load(ctx, "satcat", DS2)
    assert readers_see(ctx, DS2) == whole(DS2, 60)


def test_a_reloaded_dataset_waits_for_the_rest_or_for_publish(ctx: Context, monkeypatch, capsys) -> None:
    """A rerun reloads every dataset, so one reload alone does not publish; `starlink42k publish`
    publishes it beside the published rest of its ds, and refuses a ds it would leave partial."""
    stage(ctx, DS1, 40)
    for name in ALL:
        ingest.load(ctx, name, DS1)
    kept = rows(ctx, "select dataset, loaded_at from raw.load_log where dataset <> 'starlink' order by 1")
    stage(ctx, DS1, 50, ("starlink",))
    ingest.load(ctx, "starlink", DS1)
    assert readers_see(ctx, DS1)["starlink"] == (DS1, 40)

    for name, value in {"DATA_DIR": str(ctx.settings.data_dir), "LAKE_URL": ctx.settings.lake_url}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WAREHOUSE_URL", ctx.warehouse.url)
    capsys.readouterr()
    assert cli.main(["publish", "--ds", DS1]) == 0
    assert capsys.readouterr().out.strip() == f"ds {DS1} published: starlink"
    assert readers_see(ctx, DS1) == {**whole(DS1, 40), "starlink": (DS1, 50)}
    assert rows(ctx, "select dataset, loaded_at from raw.load_log where dataset <> 'starlink' order by 1") == kept

    stage(ctx, DS2, 50, ("launches",))
    ingest.load(ctx, "launches", DS2)
    assert cli.main(["publish", "--ds", DS2]) == 1
    err = capsys.readouterr().err
    assert (
        f"error: ds {DS2} is not published; loaded and unpublished: launches; not loaded: starlink, satcat: "
        "publishing it would leave starlink, satcat out; load them first" in err
    )
    assert readers_see(ctx, DS2) == readers_see(ctx, DS1)


def test_a_pending_table_gets_the_columns_its_parent_gained_since(ctx: Context) -> None:
    ctx = Context(replace(ctx.settings, datasets=("starlink",)))
    stage(ctx, DS1, 5, ("starlink",))
    ingest.load(ctx, "starlink", DS1, publish=False)
    csv = ctx.lake.get_bytes(lakes.curated_key("spacex", "starlink", DS1)).decode().splitlines()
    widened = ("\n".join([csv[0] + ",shell_number"] + [line + ",4" for line in csv[1:]]) + "\n").encode()
    with psycopg.connect(ctx.warehouse.url, autocommit=True) as conn:
        wh.load_csv(
            conn,
            datasets.get("starlink"),
            DS2,
            io.BytesIO(widened),
            expected_rows=5,
            expected_sha256=hashlib.sha256(widened).hexdigest(),
            source_uri="test://wide",
        )
        assert wh.publish_ds(conn, DS2, ("starlink",))[1] == ("starlink",)
        assert wh.publish_ds(conn, DS1, ("starlink",))[1] == ("starlink",)  # older, narrower: widened
    got = rows(ctx, "select ds::text, count(*), count(shell_number) from raw.starlink group by 1 order by 1")
    assert got == [(DS1, 5, 0), (DS2, 5, 5)]


# --- what the marts were built for ----------------------------------------------------------------


def test_marts_build_is_built_after_every_mart() -> None:
    marts = REPO / "dbt" / "models" / "marts"
    refs = set(re.findall(r"ref\('([a-z_0-9]+)'\)", (marts / "marts_build.sql").read_text()))
    every = {p.stem for p in marts.glob("*.sql")} - {"marts_build"}
    assert every - refs == set(), "marts_build.sql must depend on every mart (a `-- depends_on:` line each)"


def report(capsys, ds: str) -> tuple[int, str]:
    capsys.readouterr()
    code = cli.main(["report", "--ds", ds])
    return code, capsys.readouterr().err


@pytest.mark.pipeline  # whole runs of its own
def test_report_refuses_marts_built_for_another_ds_or_from_another_snapshot(
    monkeypatch, pipeline_env, api_docs, capsys
) -> None:
    lake = Path(pipeline_env["LAKE_URL"].removeprefix("file://"))
    with ReplayServer(spacex=api_docs) as server:
        monkeypatch.setenv("SPACEX_API_URL", server.spacex_url)
        assert cli.main(["run", "--ds", DS1]) == 0
        answer = (lake / f"reports/starlink/ds={DS1}/answer.json").read_bytes()

        code, err = report(capsys, DS2)  # never transformed for DS2
        assert code == 1 and re.search(
            rf"error: refusing to report ds {DS2}: the marts were built for ds {DS1} at [0-9: -]+ UTC, so the "
            rf"answer would describe that instead; run `starlink42k transform --ds {DS2}`, then `starlink42k "
            rf"report --ds {DS2}`",
            err,
        ), err
        assert not (lake / f"reports/starlink/ds={DS2}").exists()

        # dbt source freshness (the freshness step) leaves the marts' record alone
        assert cli.main(["freshness", "--ds", DS1]) == 0
        assert report(capsys, DS1)[0] == 0
        assert (lake / f"reports/starlink/ds={DS1}/answer.json").read_bytes() == answer

        # starlink of DS1 loaded and published again after the transform
        for step in ("extract", "to-csv", "load"):
            assert cli.main([step, "starlink", "--ds", DS1]) == 0
        assert cli.main(["publish", "--ds", DS1]) == 0
        code, err = report(capsys, DS1)
        assert code == 1 and re.search(
            rf"the marts were built at .* from starlink of ds {DS1}, and starlink of ds {DS1} was published since", err
        ), err

    assert cli.main(["transform", "--ds", DS1]) == 0
    assert report(capsys, DS1)[0] == 0
    rebuilt = (lake / f"reports/starlink/ds={DS1}/answer.json").read_bytes()
    # a partial build for the same ds (one model retried, a backtest) reads the same snapshots: the claim stays
    dbt(Context(Settings.from_env()), "run", "--select", "dim_launches", ds=DS1)
    assert report(capsys, DS1)[0] == 0
    assert (lake / f"reports/starlink/ds={DS1}/answer.json").read_bytes() == rebuilt
    # one for another ds changes part of the marts: they claim no ds (as after a build that did not finish)
    dbt(Context(Settings.from_env()), "run", "--select", "dim_launches", ds=DS2)
    code, err = report(capsys, DS1)
    assert code == 1 and "the marts are not marked as built for any ds (a transform did not finish" in err, err
    assert json.loads((lake / f"reports/starlink/ds={DS1}/answer.json").read_bytes())["ds"] == DS1
