"""Configuration, from environment variables only (read when a command runs, never at import).

Every variable, its default and its meaning is listed in ``VARIABLES``; the README's table is the
same list. Invalid values fail with an error naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from .datasets import NAMES as ALL_DATASETS
from .errors import ConfigError
from .log import masked_url

PUBLIC_SPACEX_API = "https://api.spacexdata.com/v4"
PUBLIC_CELESTRAK = "https://celestrak.org"

# name: (default shown to users, description)
VARIABLES: dict[str, tuple[str, str]] = {
    "SPACEX_API_URL": (PUBLIC_SPACEX_API, "SpaceX API v4 base URL"),
    "CELESTRAK_URL": (PUBLIC_CELESTRAK, "CelesTrak base URL (SATCAT)"),
    "CELESTRAK_FORMAT": ("json", "SATCAT format to fetch: `json` or `csv`"),
    "DATASETS": (",".join(ALL_DATASETS), "datasets `run` ingests; drop `satcat` to switch CelesTrak off"),
    "DATA_DIR": ("./data", "local state: embedded warehouse, local lake, dbt target"),
    "LAKE_URL": ("file://$DATA_DIR/lake", "lake: `file:///abs/path` or `s3://bucket/prefix`"),
    "S3_ENDPOINT_URL": ("(AWS)", "S3 API endpoint, e.g. MinIO `http://localhost:9000`"),
    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY": ("(none)", "S3 credentials (standard AWS variables)"),
    "WAREHOUSE_URL": ("(embedded)", "PostgreSQL URL; unset starts an embedded PostgreSQL in $DATA_DIR"),
    "HTTP_TIMEOUT": ("30", "seconds per HTTP request (connect and read)"),
    "HTTP_MAX_ATTEMPTS": ("5", "attempts per request on connection errors, timeouts, 429 and 5xx"),
    "HTTP_BACKOFF_SECONDS": ("1", "first retry delay; doubles each attempt, with jitter"),
    "HTTP_MAX_RESPONSE_MB": ("50", "largest HTTP response body read; a larger one is refused, not buffered"),
    "SPACEX_PAGE_SIZE": ("500", "documents per page of the SpaceX query API"),
    "REJECT_THRESHOLD": ("0.01", "fraction of rejected records above which `to-csv` fails"),
    "STALE_AFTER_DAYS": ("30", "a source whose newest record is older than this is stale (dbt freshness warns)"),
    "SATCAT_ERROR_AFTER_DAYS": ("45", "a CelesTrak snapshot older than this fails the Airflow run (freshness gate)"),
    "TARGET_SATELLITES": ("42000", "constellation size the forecast aims at"),
    "DBT_PROJECT_DIR": ("./dbt", "the dbt project `transform` builds (the dbt image sets /opt/dbt)"),
    "LOG_FORMAT": ("text (json in Kubernetes)", "`text` or `json` log lines on stderr"),
    "SAMPLE_DATA": ("0", "1 marks the answer as sample data (set by `make demo`)"),
    "BACKUP_KEEP": ("7", "`starlink42k backup` keeps this many newest backups in $DATA_DIR/backups"),
}


def markdown_table() -> str:
    """The README's configuration table (generated with cog: `make docs`)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, (default, doc) in VARIABLES.items():
        names = " / ".join(f"`{n}`" for n in name.split(" / "))
        shown = default if default.startswith("(") else f"`{default}`"
        rows.append(f"| {names} | {shown} | {doc} |")
    return "\n".join(rows) + "\n"


def variable_names() -> list[str]:
    """Every environment variable the pipeline reads (the table lists AWS's two on one row)."""
    return [name for row in VARIABLES for name in row.split(" / ")]


@dataclass(frozen=True)
class Settings:
    spacex_api_url: str
    celestrak_url: str
    celestrak_format: str
    datasets: tuple[str, ...]
    data_dir: Path
    lake_url: str
    s3_endpoint_url: str | None
    warehouse_url: str | None
    http_timeout: float
    http_max_attempts: int
    http_backoff_seconds: float
    http_max_response_mb: float
    spacex_page_size: int
    reject_threshold: float
    stale_after_days: int
    satcat_error_after_days: int
    target_satellites: int
    dbt_project_dir: Path
    sample_data: bool = False
    backup_keep: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env

        def get(name: str, default: str | None = None) -> str:
            """The variable's value; unset or blank: `default`, else the default VARIABLES shows."""
            value = env.get(name, "").strip()
            return value or (VARIABLES[name][0] if default is None else default)

        def number(name: str, kind: type, minimum: float, maximum: float) -> float:
            raw = get(name)
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name}={_shown(raw)} is not a {kind.__name__}") from None
            if not minimum <= value <= maximum:
                raise ConfigError(f"{name}={_shown(raw)} must be between {minimum} and {maximum}")
            return value

        data_dir = Path(get("DATA_DIR")).expanduser().resolve()
        if data_dir.exists() and not data_dir.is_dir():
            raise ConfigError(f"DATA_DIR={_shown(get('DATA_DIR'))} is a file, not a folder")
        lake_url = _lake_url(get("LAKE_URL", (data_dir / "lake").as_uri()), data_dir)
        datasets = tuple(d.strip() for d in get("DATASETS").split(",") if d.strip())
        unknown = [d for d in datasets if d not in ALL_DATASETS]
        if unknown or not datasets:
            named = f"unknown datasets {_shown(','.join(unknown))}" if unknown else "no dataset"
            raise ConfigError(f"DATASETS has {named}; choose from {', '.join(ALL_DATASETS)}")
        # Relative defaults are relative to the working directory, like DATA_DIR: the repository
        # root for `make run`; in an image, where there is no checkout, the variable is set.
        dbt_dir = Path(get("DBT_PROJECT_DIR")).expanduser().resolve()
        return cls(
            spacex_api_url=_http_url("SPACEX_API_URL", get("SPACEX_API_URL")),
            celestrak_url=_http_url("CELESTRAK_URL", get("CELESTRAK_URL")),
            celestrak_format=_choice("CELESTRAK_FORMAT", get("CELESTRAK_FORMAT").lower(), ("json", "csv")),
            datasets=datasets,
            data_dir=data_dir,
            lake_url=lake_url,
            s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
            warehouse_url=_warehouse_url(env.get("WAREHOUSE_URL", "").strip()) or None,
            http_timeout=number("HTTP_TIMEOUT", float, 0.01, 600),
            http_max_attempts=int(number("HTTP_MAX_ATTEMPTS", int, 1, 20)),
            http_backoff_seconds=number("HTTP_BACKOFF_SECONDS", float, 0, 60),
            http_max_response_mb=number("HTTP_MAX_RESPONSE_MB", float, 0.001, 4096),
            spacex_page_size=int(number("SPACEX_PAGE_SIZE", int, 1, 10000)),
            reject_threshold=number("REJECT_THRESHOLD", float, 0, 1),
            stale_after_days=int(number("STALE_AFTER_DAYS", int, 0, 100000)),
            satcat_error_after_days=int(number("SATCAT_ERROR_AFTER_DAYS", int, 1, 100000)),
            target_satellites=int(number("TARGET_SATELLITES", int, 1, 10_000_000)),
            dbt_project_dir=dbt_dir,
            sample_data=get("SAMPLE_DATA").lower() in ("1", "true", "yes"),
            backup_keep=int(number("BACKUP_KEEP", int, 1, 1000)),
        )

    def effective(self) -> dict[str, str]:
        """Each setting's value as this run uses it (`starlink42k config`); never a credential."""
        warehouse = self.warehouse_url and masked_url(self.warehouse_url)
        return {
            "SPACEX_API_URL": self.spacex_api_url,
            "CELESTRAK_URL": self.celestrak_url,
            "CELESTRAK_FORMAT": self.celestrak_format,
            "DATASETS": ",".join(self.datasets),
            "DATA_DIR": str(self.data_dir),
            "LAKE_URL": self.lake_url,
            "S3_ENDPOINT_URL": self.s3_endpoint_url or "",
            "WAREHOUSE_URL": warehouse or f"(embedded, in {self.data_dir / 'warehouse'})",
            "HTTP_TIMEOUT": f"{self.http_timeout:g}",
            "HTTP_MAX_ATTEMPTS": str(self.http_max_attempts),
            "HTTP_BACKOFF_SECONDS": f"{self.http_backoff_seconds:g}",
            "HTTP_MAX_RESPONSE_MB": f"{self.http_max_response_mb:g}",
            "SPACEX_PAGE_SIZE": str(self.spacex_page_size),
            "REJECT_THRESHOLD": f"{self.reject_threshold:g}",
            "STALE_AFTER_DAYS": str(self.stale_after_days),
            "SATCAT_ERROR_AFTER_DAYS": str(self.satcat_error_after_days),
            "TARGET_SATELLITES": str(self.target_satellites),
            "DBT_PROJECT_DIR": str(self.dbt_project_dir),
            "SAMPLE_DATA": "1" if self.sample_data else "0",
            "BACKUP_KEEP": str(self.backup_keep),
        }


def _shown(value: str, limit: int = 100) -> str:
    """A setting's value for an error message: quoted, without a password, and cut to ``limit``."""
    value = masked_url(value)
    return repr(value if len(value) <= limit else value[:limit] + "...")


# Folders of the operating system a local lake must never be written into (nor below).
SYSTEM_FOLDERS = tuple(
    PurePosixPath(p)
    for p in ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _lake_url(value: str, data_dir: Path) -> str:
    """LAKE_URL, checked. A local lake is an absolute path taken literally: no host, no `..`, no
    query; anywhere the user may write (a mounted volume, beside DATA_DIR), except the filesystem
    root, a system folder, and the embedded warehouse's own folder. An S3 lake names a valid bucket."""
    parsed = urlparse(value)
    usage = "use file:///absolute/path or s3://bucket/prefix"
    if parsed.scheme == "s3":
        if not _BUCKET.match(parsed.netloc):
            raise ConfigError(f"LAKE_URL={_shown(value)} does not name a valid S3 bucket (s3://bucket/prefix)")
        return value
    if parsed.scheme != "file":
        scheme = _shown(parsed.scheme, 20) if parsed.scheme else "(none)"
        raise ConfigError(f"LAKE_URL={_shown(value)}: the scheme {scheme} is not supported; {usage}")
    path = unquote(parsed.path)
    if parsed.netloc not in ("", "localhost") or not path.startswith("/") or parsed.query or parsed.fragment:
        raise ConfigError(f"LAKE_URL={_shown(value)} is not an absolute local path; {usage}")
    folder = PurePosixPath(path)
    if "\x00" in path or ".." in folder.parts:
        raise ConfigError(f"LAKE_URL={_shown(value)}: the path must be literal (no `..`, no NUL); {usage}")
    if folder == PurePosixPath("/") or any(folder == s or s in folder.parents for s in SYSTEM_FOLDERS):
        raise ConfigError(f"LAKE_URL={_shown(value)} is the root or a system folder; point it at a folder of your own")
    warehouse = PurePosixPath(data_dir / "warehouse")
    if folder == warehouse or warehouse in folder.parents:
        raise ConfigError(f"LAKE_URL={_shown(value)} is inside the embedded warehouse's folder {warehouse}")
    return value


def _warehouse_url(value: str) -> str:
    """WAREHOUSE_URL, checked: a PostgreSQL URL (named without its password when it is not)."""
    if value and not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"WAREHOUSE_URL={_shown(value)} is not a PostgreSQL URL: use "
            "postgresql://user:password@host:5432/database, or leave it unset for the embedded one"
        )
    return value


def _choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(f"{name}={_shown(value)}: choose from {', '.join(choices)}")
    return value


def _http_url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ConfigError(f"{name}={_shown(value)} must start with http:// or https://")
    return value.rstrip("/")
