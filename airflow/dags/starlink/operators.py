"""What every step's operator adds to Airflow's, in both execution modes (the operators themselves
live with their mode: CliOperator in local.py, CliPodOperator in kubernetes.py):

- the pipeline's own error line as the task's failure reason (the Slack alert states it): locally
  the CLI writes it to STARLINK42K_ERROR_FILE; in a pod to /dev/termination-log, which Kubernetes
  hands back as the container's termination message;
- a stale source is a verdict, not a transient error: the freshness gate's line naming a source
  that "is too old" fails the task without its retries (AirflowFailException), so the run stops at
  once with one alert; anything else (an unreachable warehouse, dbt failing) keeps its retries;
- the report's outlet event carries the run's ds (a DAG scheduled on the answer reads it);
- OpenLineage inputs and outputs from the inlets and outlets (assets.openlineage_facets).
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from . import assets

# The CLI's line for a source past its error threshold (src/starlink42k/freshness.py: describe()).
STALE_SOURCE = re.compile(r"^freshness gate: .* is too old: ")


class Step:
    """Mixin of the steps' operators."""

    announces_answer: bool = False

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return assets.openlineage_facets(self)

    def announce(self, context: Any) -> None:
        if self.announces_answer:  # consumers read reports/starlink/ds=<ds>/answer.json
            context["outlet_events"][assets.ANSWER].extra = {"ds": context["ds"]}

    @staticmethod
    def raise_failure(reason: str, exc: BaseException) -> NoReturn:
        """Raise the failure `exc` with the CLI's error line as its message (if the CLI left one)."""
        reason = reason.strip()
        if not reason:
            raise exc
        if STALE_SOURCE.match(reason):
            raise AirflowFailException(reason) from exc
        raise AirflowException(reason) from exc
