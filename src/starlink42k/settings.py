"""Configuration, from environment variables only (read when a command runs, never at import).

Each setting is declared once, as a field of ``Settings``: its variable, type, default, bounds and
help. Everything else is derived from that declaration: the parsing and its error messages, the
README's table (``markdown_table``, through cog), ``starlink42k config`` (``effective``), the
variables dbt reads (``dbt_env``) and the schema of the platform chart's ``pipelineSettings``
(``chart_schema``). Adding a setting is one field here.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from .datasets import NAMES as ALL_DATASETS
from .errors import ConfigError
from .log import masked_url

PUBLIC_SPACEX_API = "https://api.spacexdata.com/v4"
PUBLIC_CELESTRAK = "https://celestrak.org"


@dataclass(frozen=True)
class Setting:
    """One environment variable: how it is read, documented and passed on.

    kind      how the text is read: text, int, float, optional_float (a float or nothing), bool,
              choice, url (http/https), datasets, folder, path, lake_url, warehouse_url, optional
              (text or nothing), external (read by another library, e.g. boto3's credentials:
              documented only)
    default   the text used when the variable is unset or blank ("" = none)
    shown     the default as the docs show it, when that is not ``default`` itself
    dbt       dbt reads it from the environment too (dbt_project.yml's vars, the sources' freshness)
    chart     a user may set it in the platform chart's ``pipelineSettings`` (not credentials,
              endpoints or paths the pods fix)
    """

    name: str
    help: str
    kind: str = "text"
    default: str = ""
    shown: str = ""
    bounds: tuple[float, float] | None = None
    choices: tuple[str, ...] = ()
    dbt: bool = False
    chart: bool = True

    @property
    def documented_default(self) -> str:
        return self.shown or (f"`{self.default}`" if self.default else "(none)")


def setting(name: str, help: str, **kwargs: Any) -> Any:
    """A ``Settings`` field declared by its variable (see ``Setting``)."""
    return dataclasses.field(metadata={"setting": Setting(name, help, **kwargs)})


@dataclass(frozen=True, kw_only=True)
class Settings:
    # --- sources
    spacex_api_url: str = setting("SPACEX_API_URL", "SpaceX API v4 base URL", kind="url", default=PUBLIC_SPACEX_API)
    celestrak_url: str = setting("CELESTRAK_URL", "CelesTrak base URL (SATCAT)", kind="url", default=PUBLIC_CELESTRAK)
    celestrak_format: str = setting(
        "CELESTRAK_FORMAT",
        "SATCAT format to fetch: `json` or `csv`",
        kind="choice",
        default="json",
        choices=("json", "csv"),
    )
    datasets: tuple[str, ...] = setting(
        "DATASETS",
        "datasets `run` ingests; drop `satcat` to switch CelesTrak off",
        kind="datasets",
        default=",".join(ALL_DATASETS),
        dbt=True,
    )
    # --- where data lives
    data_dir: Path = setting(
        "DATA_DIR",
        "local state: embedded warehouse, local lake, dbt target",
        kind="folder",
        default="./data",
        chart=False,
    )
    lake_url: str = setting(
        "LAKE_URL",
        "lake: `file:///abs/path` or `s3://bucket/prefix`",
        kind="lake_url",
        shown="`file://$DATA_DIR/lake`",
        chart=False,
    )
    s3_endpoint_url: str | None = setting(
        "S3_ENDPOINT_URL",
        "S3 API endpoint, e.g. MinIO `http://localhost:9000`",
        kind="optional",
        shown="(AWS)",
        chart=False,
    )
    warehouse_url: str | None = setting(
        "WAREHOUSE_URL",
        "PostgreSQL URL; unset starts an embedded PostgreSQL in $DATA_DIR",
        kind="warehouse_url",
        shown="(embedded)",
        chart=False,
    )
    # --- HTTP
    http_timeout: float = setting(
        "HTTP_TIMEOUT",
        "seconds to connect, and to wait for each read of an answer",
        kind="float",
        default="30",
        bounds=(0.01, 600),
    )
    http_deadline: float = setting(
        "HTTP_DEADLINE",
        "seconds an HTTP request may take in all, retries included, however slowly the server sends",
        kind="float",
        default="600",
        bounds=(1, 86400),
    )
    http_max_attempts: int = setting(
        "HTTP_MAX_ATTEMPTS",
        "attempts per request on connection errors, timeouts, 429 and 5xx",
        kind="int",
        default="5",
        bounds=(1, 20),
    )
    http_backoff_seconds: float = setting(
        "HTTP_BACKOFF_SECONDS",
        "first retry delay; doubles each attempt, with jitter",
        kind="float",
        default="1",
        bounds=(0, 60),
    )
    http_max_response_mb: float = setting(
        "HTTP_MAX_RESPONSE_MB",
        "largest HTTP response body read; a larger one is refused, not buffered",
        kind="float",
        # Bodies are spooled to a temporary file, not held in memory: this bounds the disk they take
        # (ten times today's SATCAT is 43 MB of JSON), and stops a runaway response.
        default="256",
        bounds=(0.001, 4096),
    )
    spacex_page_size: int = setting(
        "SPACEX_PAGE_SIZE", "documents per page of the SpaceX query API", kind="int", default="500", bounds=(1, 10000)
    )
    # --- curation and freshness
    reject_threshold: float = setting(
        "REJECT_THRESHOLD",
        "fraction of rejected records above which `to-csv` fails",
        kind="float",
        default="0.01",
        bounds=(0, 1),
    )
    stale_after_days: int = setting(
        "STALE_AFTER_DAYS",
        "a source whose newest record is older than this is stale (dbt freshness warns)",
        kind="int",
        default="30",
        bounds=(0, 100000),
        dbt=True,
    )
    satcat_error_after_days: int = setting(
        "SATCAT_ERROR_AFTER_DAYS",
        "a CelesTrak snapshot older than this fails the Airflow run (freshness gate)",
        kind="int",
        default="45",
        bounds=(1, 100000),
        dbt=True,
    )
    # --- the forecast's assumptions (dbt reads them; the report states them)
    target_satellites: int = setting(
        "TARGET_SATELLITES",
        "constellation size the forecast aims at",
        kind="int",
        default="42000",
        bounds=(1, 10_000_000),
        dbt=True,
    )
    cadence_window_months: int = setting(
        "CADENCE_WINDOW_MONTHS",
        "months before the as-of date the forecast's rates are measured over (launches, satellites per launch, decays)",
        kind="int",
        default="12",
        bounds=(1, 120),
        dbt=True,
    )
    trend_window_months: int = setting(
        "TREND_WINDOW_MONTHS",
        "months the trend scenario fits the launch cadence's linear trend on",
        kind="int",
        default="24",
        bounds=(2, 240),
        dbt=True,
    )
    satellites_per_launch: float | None = setting(
        "SATELLITES_PER_LAUNCH",
        "satellites each future launch carries; unset: measured over the cadence window",
        kind="optional_float",
        shown="(measured)",
        bounds=(0.1, 1000),
        dbt=True,
    )
    decays_per_month: float | None = setting(
        "DECAYS_PER_MONTH",
        "satellites lost per month, which launches must replace; unset: measured over the cadence window",
        kind="optional_float",
        shown="(measured)",
        bounds=(0, 100_000),
        dbt=True,
    )
    # --- tools and modes
    dbt_project_dir: Path = setting(
        "DBT_PROJECT_DIR",
        "the dbt project `transform` builds (the dbt image sets /opt/dbt)",
        kind="path",
        default="./dbt",
        chart=False,
    )
    sample_data: bool = setting(
        "SAMPLE_DATA", "1 marks the answer as sample data (set by `make demo`)", kind="bool", default="0"
    )
    backup_keep: int = setting(
        "BACKUP_KEEP",
        "`starlink42k backup` keeps this many newest backups in $DATA_DIR/backups",
        kind="int",
        default="7",
        bounds=(1, 1000),
        chart=False,
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Every setting from ``env`` (default: the process environment), each checked; the first
        invalid one fails with a ConfigError naming the variable and the problem."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # in declaration order: LAKE_URL's default needs DATA_DIR
            spec: Setting = f.metadata["setting"]
            raw = env.get(spec.name, "").strip() or spec.default
            values[f.name] = _READERS[spec.kind](spec, raw, values)
        return cls(**values)

    def effective(self) -> dict[str, str]:
        """Each setting's value as this run uses it (`starlink42k config`); never a credential."""
        out = {}
        for f in dataclasses.fields(self):
            spec: Setting = f.metadata["setting"]
            out[spec.name] = _shown_value(spec, getattr(self, f.name), self)
        return out

    def dbt_env(self) -> dict[str, str]:
        """The settings dbt reads with env_var(), as the cluster's pods get them from the settings
        ConfigMap: every mode passes dbt the same variables."""
        values = self.effective()
        return {s.name: values[s.name] for s in settings() if s.dbt}


# Read by other libraries (boto3) or before the settings (log.py): documented, not fields.
EXTERNAL = (
    Setting(
        "AWS_ACCESS_KEY_ID", "S3 access key (the standard AWS variable, read by boto3)", kind="external", chart=False
    ),
    Setting(
        "AWS_SECRET_ACCESS_KEY",
        "S3 secret key (the standard AWS variable, read by boto3)",
        kind="external",
        chart=False,
    ),
    Setting(
        "LOG_FORMAT",
        "`text` or `json` log lines on stderr",
        kind="external",
        shown="`text` (`json` in Kubernetes)",
        chart=False,
    ),
)


def settings() -> tuple[Setting, ...]:
    """Every environment variable the pipeline reads, in the docs' order."""
    return (*(f.metadata["setting"] for f in dataclasses.fields(Settings)), *EXTERNAL)


def variable_names() -> list[str]:
    return [s.name for s in settings()]


def markdown_table() -> str:
    """The README's configuration table (cog: `make docs`)."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{s.name}` | {s.documented_default} | {s.help} |" for s in settings()]
    return "\n".join(rows) + "\n"


def chart_schema() -> dict[str, Any]:
    """JSON schema of the platform chart's ``pipelineSettings`` (values.schema.json; `make docs`
    writes it there): exactly the settings a user may set in the cluster, each with its bounds."""
    properties = {}
    for s in settings():
        if not s.chart:
            continue
        prop: dict[str, Any] = {"description": s.help.replace("`", "")}
        if s.kind in ("int", "float", "optional_float"):
            number = r"-?[0-9]+" if s.kind == "int" else r"-?[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?"
            number = f"({number})?" if s.kind == "optional_float" else number  # empty: unset
            prop |= {"type": ["integer" if s.kind == "int" else "number", "string"], "pattern": f"^{number}$"}
            low, high = s.bounds or (-math.inf, math.inf)
            prop |= {"minimum": low, "maximum": high} if s.bounds else {}
        elif s.kind == "bool":
            prop |= {"type": ["boolean", "string"], "pattern": "^(0|1|[Tt]rue|[Ff]alse|[Yy]es|[Nn]o)$"}
        elif s.kind == "choice":
            prop |= {"type": "string", "enum": list(s.choices)}
        elif s.kind == "url":
            prop |= {"type": "string", "pattern": "^https?://"}
        elif s.kind == "datasets":
            prop |= {"type": "string", "pattern": f"^ *({'|'.join(ALL_DATASETS)}) *(, *({'|'.join(ALL_DATASETS)}) *)*$"}
        else:
            prop |= {"type": "string"}
        properties[s.name] = prop
    return {
        "description": "The pipeline's settings (src/starlink42k/settings.py, generated by `make docs`); "
        "credentials, endpoints and paths come from Secrets and the pods.",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


# --- reading one value ---------------------------------------------------------------------------


def _shown(value: str, limit: int = 100) -> str:
    """A setting's value for an error message: quoted, without a password, and cut to ``limit``."""
    value = masked_url(value)
    return repr(value if len(value) <= limit else value[:limit] + "...")


def _number(spec: Setting, raw: str, kind: type) -> float:
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{spec.name}={_shown(raw)} is not a {kind.__name__}") from None
    low, high = spec.bounds or (-math.inf, math.inf)
    if not low <= value <= high:  # also refuses NaN
        low_text, high_text = (str(int(b)) if float(b).is_integer() else f"{b:g}" for b in (low, high))
        raise ConfigError(f"{spec.name}={_shown(raw)} must be between {low_text} and {high_text}")
    return value


def _choice(spec: Setting, raw: str, _: dict) -> str:
    value = raw.lower()
    if value not in spec.choices:
        raise ConfigError(f"{spec.name}={_shown(value)}: choose from {', '.join(spec.choices)}")
    return value


def _http_url(spec: Setting, raw: str, _: dict) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{spec.name}={_shown(raw)} must start with http:// or https://")
    return raw.rstrip("/")


def _datasets(spec: Setting, raw: str, _: dict) -> tuple[str, ...]:
    chosen = tuple(d.strip() for d in raw.split(",") if d.strip())
    unknown = [d for d in chosen if d not in ALL_DATASETS]
    if unknown or not chosen:
        named = f"unknown datasets {_shown(','.join(unknown))}" if unknown else "no dataset"
        raise ConfigError(f"{spec.name} has {named}; choose from {', '.join(ALL_DATASETS)}")
    return chosen


def _folder(spec: Setting, raw: str, _: dict) -> Path:
    # Relative to the working directory: the repository root for `make run`; an image sets it.
    path = Path(raw).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{spec.name}={_shown(raw)} is a file, not a folder")
    return path


# Folders of the operating system a local lake must never be written into (nor below).
SYSTEM_FOLDERS = tuple(
    PurePosixPath(p)
    for p in ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/proc", "/run", "/sbin", "/sys", "/usr")
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _lake_url(spec: Setting, raw: str, values: dict) -> str:
    """LAKE_URL, checked. A local lake is an absolute path taken literally: no host, no `..`, no
    query; anywhere the user may write (a mounted volume, beside DATA_DIR), except the filesystem
    root, a system folder, and the embedded warehouse's own folder. An S3 lake names a valid bucket."""
    data_dir: Path = values["data_dir"]
    value = raw or (data_dir / "lake").as_uri()
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


def _warehouse_url(spec: Setting, raw: str, _: dict) -> str | None:
    """WAREHOUSE_URL, checked: a PostgreSQL URL (named without its password when it is not)."""
    if raw and not raw.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"WAREHOUSE_URL={_shown(raw)} is not a PostgreSQL URL: use "
            "postgresql://user:password@host:5432/database, or leave it unset for the embedded one"
        )
    return raw or None


_READERS: dict[str, Callable[[Setting, str, dict], Any]] = {
    "text": lambda spec, raw, _: raw,
    "optional": lambda spec, raw, _: raw or None,
    "int": lambda spec, raw, _: int(_number(spec, raw, int)),
    "float": lambda spec, raw, _: _number(spec, raw, float),
    "optional_float": lambda spec, raw, _: _number(spec, raw, float) if raw else None,
    "bool": lambda spec, raw, _: raw.lower() in ("1", "true", "yes"),
    "choice": _choice,
    "url": _http_url,
    "datasets": _datasets,
    "folder": _folder,
    "path": lambda spec, raw, _: Path(raw).expanduser().resolve(),
    "lake_url": _lake_url,
    "warehouse_url": _warehouse_url,
}


def _shown_value(spec: Setting, value: Any, settings: Settings) -> str:
    """A value as `starlink42k config` prints it (and dbt reads it): never a password."""
    if spec.kind == "warehouse_url":
        return masked_url(value) if value else f"(embedded, in {settings.data_dir / 'warehouse'})"
    if spec.kind in ("float", "optional_float") and value is not None:
        return f"{value:g}"
    if spec.kind == "bool":
        return "1" if value else "0"
    if spec.kind == "datasets":
        return ",".join(value)
    return "" if value is None else str(value)
