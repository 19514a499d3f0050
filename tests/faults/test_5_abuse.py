"""Bad input and abuse: arguments, settings and source records chosen to break or subvert the pipeline.

Arguments and settings: every bad value exits 2 (usage, argparse) or 1 (a setting), with one message
naming the input and what is wrong with it, no traceback, and nothing written: the lake and the
warehouse stay exactly as the module's good run left them.

Source records: the module's stack serves documents holding SQL and shell metacharacters, CSV-hostile
text (quotes, commas, backslashes, ``\\N``, ``\\.`` lines, CR/LF), a 1 MB string, and names in many
scripts. They are stored exactly (the warehouse row equals the input) and never executed. PostgreSQL
text cannot hold NUL (U+0000), and a lone surrogate is not Unicode: such a record is rejected, with
that reason, into the rejects file (and counted against REJECT_THRESHOLD), never altered or dropped
silently.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import psycopg
import pytest
from fault_checks import GoodRun, assert_refused
from fault_stack import Stack

SHELL_MARK = Path("/tmp") / f"starlink42k-pwned-{uuid.uuid4().hex[:8]}"
SQL = "2024-01-01'; drop table raw.launches; --"
NASTY_LAUNCH_NAMES = {
    0: "Robert'); DROP TABLE raw.launches;-- \"; select pg_sleep(60); --",
    1: f"$(touch {SHELL_MARK}) `touch {SHELL_MARK}` ; touch {SHELL_MARK} && echo | sh",
    2: 'CSV: "quoted", comma, back\\slash, \\N, tab\t,\nnew line\r\n\\.\nafter the end marker',
    3: "Старлинк 星链 ستارلينك स्टारलिंक 🚀🛰️ e\u0301 \u200f\u202eRTL\u202c \ufeffBOM",
}
MEGABYTE = ("ünïcödé 🛰 " * 100_000)[: 2**20]


@pytest.fixture(scope="module")
def stack_spacex_docs(api_docs: dict[str, list[dict]]) -> dict[str, list[dict]]:
    docs = copy.deepcopy(api_docs)
    for i, name in NASTY_LAUNCH_NAMES.items():
        docs["launches"][i]["name"] = name
    docs["launches"][4]["details"] = MEGABYTE
    docs["starlink"][0]["spaceTrack"]["OBJECT_NAME"] = "STARLINK-0'; DROP TABLE raw.starlink; --"
    docs["starlink"][1]["spaceTrack"]["OBJECT_NAME"] = "STARLINK\x00-1"  # NUL: rejected
    docs["starlink"][2]["spaceTrack"]["OBJECT_NAME"] = "STARLINK-\ud800"  # lone surrogate: rejected
    docs["starlink"][3]["version"] = "v2 mini 🚀 Ω"
    return docs


@pytest.fixture(scope="module")
def stack_satcat_records(satcat_records: list[dict]) -> list[dict]:
    records = copy.deepcopy(satcat_records)
    records[0]["OBJECT_NAME"] = "STARLINK-1'; DROP TABLE raw.satcat; -- $(reboot)"
    records[1]["OBJECT_NAME"] = "STARLINK-\x00"  # NUL: rejected
    return records


def one(url: str, sql: str, *args: object) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchone()


# --- source records ---------------------------------------------------------------------------------


@pytest.mark.fault("Bad input and abuse", "records with SQL and shell metacharacters: stored exactly, never executed")
def test_metacharacters_stored_exactly(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    launches = stack_spacex_docs["launches"]
    for i, name in NASTY_LAUNCH_NAMES.items():
        stored = one(
            ran.warehouse_url, "select name from raw.launches where id = %s and ds = %s", launches[i]["id"], good_run.ds
        )
        assert stored == (name,), f"launch {i}: {stored!r} != {name!r}"
    sat = stack_spacex_docs["starlink"][0]
    assert one(ran.warehouse_url, "select object_name from raw.starlink where id = %s", sat["id"]) == (
        sat["spaceTrack"]["OBJECT_NAME"],
    )
    assert one(ran.warehouse_url, "select count(*) from raw.satcat where object_name like %s", "%DROP TABLE%") == (1,)
    for table in ("raw.launches", "raw.starlink", "raw.satcat"):
        assert one(ran.warehouse_url, f"select count(*) > 0 from {table}") == (True,)  # not dropped
    assert not SHELL_MARK.exists(), "a shell payload in a record was executed"


@pytest.mark.fault("Bad input and abuse", "a 1 MB string and names in many scripts: stored exactly")
def test_long_and_unicode_strings_stored_exactly(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    launch = stack_spacex_docs["launches"][4]
    assert one(ran.warehouse_url, "select details from raw.launches where id = %s", launch["id"]) == (MEGABYTE,)
    sat = stack_spacex_docs["starlink"][3]
    assert one(ran.warehouse_url, "select version from raw.starlink where id = %s", sat["id"]) == (sat["version"],)
    raw = json.loads((ran.lake_dir / f"raw/spacex/launches/ds={good_run.ds}/launches.json").read_bytes())
    assert raw == stack_spacex_docs["launches"]  # the lake keeps the documents as sent


@pytest.mark.fault(
    "Bad input and abuse", "NUL bytes and lone surrogates in a record: rejected with the reason, not altered"
)
def test_nul_and_surrogates_rejected_with_reason(ran: Stack, good_run: GoodRun, stack_spacex_docs: dict) -> None:
    def rejects(dataset: str, source: str) -> list[dict]:
        path = ran.lake_dir / f"rejects/{source}/{dataset}/ds={good_run.ds}/{dataset}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]

    starlink = {r["id"]: r["reason"] for r in rejects("starlink", "spacex")}
    nul, surrogate = stack_spacex_docs["starlink"][1], stack_spacex_docs["starlink"][2]
    assert "NUL character (U+0000), which PostgreSQL text cannot store" in starlink[nul["id"]]
    assert "lone surrogate U+D800" in starlink[surrogate["id"]]
    satcat = [r for r in rejects("satcat", "celestrak") if "NUL" in r["reason"]]
    assert len(satcat) == 1 and satcat[0]["record"]["OBJECT_NAME"] == "STARLINK-\x00"
    for doc in (nul, surrogate):
        assert one(ran.warehouse_url, "select count(*) from raw.starlink where id = %s", doc["id"]) == (0,)
    status = ran.run("status", "--json")
    assert status.returncode == 0, status.stderr


# --- arguments ------------------------------------------------------------------------------------------

BAD_DS = ["2024-02-30", "../../etc", SQL, "20240131", "2024-1-31", "", "2024-01-31\n", "9" * 5000]
BAD_DS += ["9999-12-31", "0001-01-01"]  # real dates, outside what a ds may be


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(
            [command, *(["launches"] if command in ("extract", "load") else []), "--ds", ds],
            marks=pytest.mark.fault("Bad input and abuse", f"--ds {ds[:24]!r} ({command}): exit 2, nothing written"),
            id=f"{command}-{i}",
        )
        for i, ds in enumerate(BAD_DS)
        for command in (["run", "extract", "load", "report"] if i < 3 else ["run"])
    ],
)
def test_bad_ds_is_refused(ran: Stack, good_run: GoodRun, args: list[str]) -> None:
    before = ran.snapshot()
    message = assert_refused(ran, ran.run(*args), before, "--ds", "is not a date (YYYY-MM-DD)", code=2)
    assert len(message) < 200


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        pytest.param(
            ["extract", "../../etc", "--ds", "2024-01-31"], {}, ["invalid choice: '../../etc'"],
            marks=pytest.mark.fault("Bad input and abuse", "a dataset name outside the list (argument): exit 2"),
            id="dataset-argument",
        ),
        pytest.param(
            ["load", "--dataset", "launches; drop table raw.launches", "--ds", "2024-01-31"], {},
            ["--dataset", "invalid choice"],
            marks=pytest.mark.fault("Bad input and abuse", "a dataset name with SQL (--dataset): exit 2"),
            id="dataset-option",
        ),
        pytest.param(
            ["run", "--ds", "2024-01-31"], {"DATASETS": "launches,raw.launches;--"}, ["DATASETS", "raw.launches;--"],
            marks=pytest.mark.fault("Bad input and abuse", "DATASETS naming a dataset outside the list: exit 1"),
            id="datasets-variable",
        ),
    ],
)  # fmt: skip
def test_bad_dataset_is_refused(ran: Stack, good_run: GoodRun, args: list[str], env: dict, says: list[str]) -> None:
    before = ran.snapshot()
    assert_refused(ran, ran.run(*args, **env), before, *says, code=1 if env else 2)


# --- settings ------------------------------------------------------------------------------------------


def _setting(name: str, value: str, case: str, *says: str):
    return pytest.param(name, value, says or (name,), marks=pytest.mark.fault("Bad input and abuse", case), id=name)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        _setting(
            "LAKE_URL", "ftp://example.org/lake", "LAKE_URL with an unknown scheme (ftp://)", "'ftp'", "not supported"
        ),
        _setting("LAKE_URL", "gs://bucket/lake", "LAKE_URL with an unknown scheme (gs://)", "'gs'", "not supported"),
        _setting("LAKE_URL", "/var/tmp/lake", "LAKE_URL without a scheme", "not supported"),
        _setting("LAKE_URL", "file://relative/lake", "LAKE_URL with a relative path (file://relative)", "absolute"),
        _setting("LAKE_URL", "file:///tmp/lake/../../etc", "LAKE_URL escaping with ..", "no `..`"),
        _setting("LAKE_URL", "file:///tmp/lake/%2e%2e/%2e%2e/etc", "LAKE_URL escaping with %2e%2e", "no `..`"),
        _setting("LAKE_URL", "file:///etc/starlink", "LAKE_URL in a system folder (/etc)", "system folder"),
        _setting("LAKE_URL", "file:///", "LAKE_URL at the filesystem root", "system folder"),
        _setting("LAKE_URL", "s3://", "LAKE_URL s3:// without a bucket", "valid S3 bucket"),
        _setting("LAKE_URL", "s3://../etc", "LAKE_URL s3:// with a bucket name that is a path", "valid S3 bucket"),
        _setting(
            "WAREHOUSE_URL",
            "mysql://root:hunter2@db:3306/x",
            "WAREHOUSE_URL that is MySQL (password masked)",
            "mysql://root:***@db:3306/x",
            "not a PostgreSQL URL",
        ),
        _setting("WAREHOUSE_URL", "sqlite:///tmp/warehouse.db", "WAREHOUSE_URL that is SQLite", "not a PostgreSQL URL"),
        _setting(
            "WAREHOUSE_URL",
            "host=db user=postgres password=hunter2",
            "WAREHOUSE_URL as a libpq keyword string",
            "not a PostgreSQL URL",
        ),
        _setting("HTTP_TIMEOUT", "-5", "a negative number (HTTP_TIMEOUT=-5)", "HTTP_TIMEOUT='-5' must be between"),
        _setting(
            "HTTP_MAX_ATTEMPTS", "0", "zero attempts (HTTP_MAX_ATTEMPTS=0)", "HTTP_MAX_ATTEMPTS='0' must be between"
        ),
        _setting(
            "SPACEX_PAGE_SIZE",
            "ten",
            "a non-numeric number (SPACEX_PAGE_SIZE=ten)",
            "SPACEX_PAGE_SIZE='ten' is not a int",
        ),
        _setting(
            "TARGET_SATELLITES", "4.2e4", "a float where a whole number is due (TARGET_SATELLITES)", "TARGET_SATELLITES"
        ),
        _setting("REJECT_THRESHOLD", "nan", "NaN (REJECT_THRESHOLD=nan)", "REJECT_THRESHOLD='nan' must be between"),
        _setting("HTTP_BACKOFF_SECONDS", "inf", "infinity (HTTP_BACKOFF_SECONDS=inf)", "HTTP_BACKOFF_SECONDS"),
        _setting("HTTP_MAX_RESPONSE_MB", "-1", "a negative size cap (HTTP_MAX_RESPONSE_MB=-1)", "HTTP_MAX_RESPONSE_MB"),
        _setting("BACKUP_KEEP", "-3", "a negative count (BACKUP_KEEP=-3)", "BACKUP_KEEP"),
        _setting("SPACEX_API_URL", "file:///etc/passwd", "a source URL that is a local file", "must start with http"),
        _setting("DATA_DIR", "/etc/hostname", "DATA_DIR that is a file", "DATA_DIR='/etc/hostname' is a file"),
        _setting("LAKE_URL", "ftp://" + "x" * 100_000, "a 100 kB LAKE_URL: named in a message cut short", "..."),
        _setting("SPACEX_API_URL", "ftp://user:hunter2@api.example", "a token in a bad source URL: masked", ":***@"),
    ],
)
def test_bad_setting_is_refused(ran: Stack, good_run: GoodRun, name: str, value: str, says: tuple[str, ...]) -> None:
    before = ran.snapshot()
    result = ran.run("run", "--ds", good_run.ds, **{name: value})
    message = assert_refused(ran, result, before, *says, code=1)
    assert "hunter2" not in result.stderr + result.stdout
    assert len(message.splitlines()) == 1 and len(message) < 300


@pytest.mark.fault("Bad input and abuse", "after the refused inputs, a clean rerun of the pipeline: identical answer")
def test_clean_rerun_after_the_abuse(ran: Stack, good_run: GoodRun) -> None:
    result = ran.run("run", "--ds", good_run.ds)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ran.answer_facts(good_run.ds) == good_run.answer_facts
    assert ran.snapshot()["warehouse"].keys() == good_run.snapshot["warehouse"].keys()
    assert ran.leftovers() == []
    assert not SHELL_MARK.exists()
