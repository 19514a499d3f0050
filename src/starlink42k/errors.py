"""Errors a user can act on: each says what failed, with which input, and what to do next."""

from __future__ import annotations


class PipelineError(Exception):
    """A failure with a message written for the person running the pipeline (exit code 1)."""


class ConfigError(PipelineError):
    """A setting (environment variable or option) has a value the pipeline cannot use."""


class SourceUnreachable(PipelineError):
    """The source API could not be reached at all, after every retry."""


class SourceResponseError(PipelineError):
    """The source answered, but not with what the pipeline expects."""


class ResponseTooLarge(SourceResponseError):
    """The source sent more than HTTP_MAX_RESPONSE_MB; the rest was not read."""


class DataQualityError(PipelineError):
    """Too many records failed validation; nothing was written."""


class LakeError(PipelineError):
    """An object in the lake is missing, unreadable or does not match its manifest."""


class StaleSourceError(PipelineError):
    """A source is past its error threshold (the freshness gate): a verdict, not a transient error."""


class WarehouseError(PipelineError):
    """The warehouse refused or failed a step; what readers see is intact, and the message says
    what was kept."""


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGINT asked the step to stop (Airflow's on_kill, Kubernetes deleting the pod,
    Ctrl-C). A KeyboardInterrupt, so that psycopg cancels the statement in flight before it gives up
    the connection; the step's transaction then rolls back and dbt is stopped (dbt_runner.py)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
