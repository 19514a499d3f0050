"""What every step needs, built lazily so that a step only touches what it uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from . import lake as lakes
from . import warehouse as wh
from .http_client import HttpClient, RetryPolicy
from .settings import Settings


@dataclass
class Context:
    settings: Settings
    _warehouse: wh.Warehouse | None = field(default=None, repr=False)

    @cached_property
    def lake(self) -> lakes.LocalLake | lakes.S3Lake:
        return lakes.open_lake(self.settings.lake_url, self.settings.s3_endpoint_url)

    @cached_property
    def http(self) -> HttpClient:
        s = self.settings
        return HttpClient(
            RetryPolicy(
                max_attempts=s.http_max_attempts,
                backoff_seconds=s.http_backoff_seconds,
                timeout_seconds=s.http_timeout,
                deadline_seconds=s.http_deadline,
                max_response_bytes=int(s.http_max_response_mb * 2**20),
            )
        )

    @property
    def warehouse(self) -> wh.Warehouse:
        """WAREHOUSE_URL, or the embedded PostgreSQL in DATA_DIR (started on first use)."""
        if self._warehouse is None:
            self._warehouse = wh.resolve(self.settings.warehouse_url, self.settings.data_dir)
        return self._warehouse
