"""The operators of the pipeline's steps, one per execution mode, with what Airflow's stock ones lack:

- the pipeline's own error line as the task's failure reason (the Slack alert states it): locally
  the CLI writes it to STARLINK42K_ERROR_FILE; in a pod to /dev/termination-log, which Kubernetes
  hands back as the container's termination message and the pod operator puts in its exception;
- the report's outlet event carries the run's ds (a DAG scheduled on the answer reads it);
- OpenLineage inputs and outputs from the inlets and outlets (assets.openlineage_facets).

CliOperator          `starlink42k ...` as a local process (local mode)
CliPodOperator       `starlink42k ...` in a pod of the pipeline image (kubernetes mode)
DbtThenCliPodOperator  the same, after an init container of the dbt image that runs dbt into the
                     pod's /tmp (dbt docs generate, dbt source freshness): the pipeline image has
                     no dbt and the dbt image no lake client, so each does its half.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.standard.operators.bash import BashOperator

from . import assets, kube_secrets, pod_defaults


class _Step:
    """What both modes' CLI operators add: lineage, and the answer's event."""

    announces_answer: bool = False

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        return assets.openlineage_facets(self)

    def _announce(self, context: Any) -> None:
        if self.announces_answer:  # consumers read reports/starlink/ds=<ds>/answer.json
            context["outlet_events"][assets.ANSWER].extra = {"ds": context["ds"]}


class CliOperator(_Step, BashOperator):
    """The CLI as a local process; a failure's reason is the CLI's own error line."""

    def __init__(self, *, announces_answer: bool = False, **kwargs: Any) -> None:
        # The worker's environment (SPACEX_API_URL, WAREHOUSE_URL, DATA_DIR, ...) plus ours.
        super().__init__(append_env=True, **kwargs)
        self.announces_answer = announces_answer

    def execute(self, context: Any) -> Any:
        with tempfile.TemporaryDirectory(prefix="starlink42k-") as tmp:
            error_file = Path(tmp) / "error"
            self.env = {**(self.env or {}), "STARLINK42K_ERROR_FILE": str(error_file)}
            try:
                result = super().execute(context)
            except Exception as exc:
                if error_file.exists():
                    raise type(exc)(error_file.read_text().strip()) from exc
                raise
        self._announce(context)
        return result


class CliPodOperator(_Step, KubernetesPodOperator):
    """The CLI in a pod of the pipeline image (its ENTRYPOINT); its termination message, the CLI's
    error line, is the failure's reason."""

    def __init__(self, *, announces_answer: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.announces_answer = announces_answer

    def execute(self, context: Any) -> Any:
        result = super().execute(context)
        self._announce(context)
        return result


class DbtThenCliPodOperator(CliPodOperator):
    """The CLI pod, with a dbt command (dbt image) as its init container. `dbt_arguments` is
    templated (init containers are not), so the run's ds reaches dbt's --vars."""

    template_fields = (*KubernetesPodOperator.template_fields, "dbt_arguments")

    def __init__(self, *, dbt_arguments: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dbt_arguments = dbt_arguments

    def build_pod_request_obj(self, context: Any = None, *, dry_run: bool = False) -> Any:
        dbt = pod_defaults.container(
            "dbt",
            pod_defaults.dbt_image(),
            pod_defaults.DBT_RESOURCES,
            pod_defaults.DBT_ENV,
            kube_secrets.DBT,
            args=list(self.dbt_arguments),
        )
        self.init_containers = [dbt]
        return super().build_pod_request_obj(context, dry_run=dry_run)
