"""Failure handling shared by every task: retries with exponential backoff, then one Slack message.

The message goes to the Slack incoming webhook of connection `slack_alerts` (AIRFLOW_CONN_SLACK_ALERTS
in the Airflow pods, from the optional Secret `slack-alerts`). Without that connection the callback
fails with "conn_id `slack_alerts` isn't defined" in the task log; the task's state is unaffected.
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

SLACK_CONN_ID = "slack_alerts"

# Templated by the notifier with the failed task's context. Plain text: it reads the same in Slack,
# in a mail relay, and in a test.
TASK_FAILED = (
    ":red_circle: starlink42k task failed\n"
    "DAG: {{ dag.dag_id }}\n"
    "Task: {{ ti.task_id }}\n"
    "Run: {{ run_id }} (ds {{ ds }})\n"
    "Try: {{ ti.try_number }}\n"
    # The pipeline's own error line (the steps' operators make it the exception's message), e.g.
    # the freshness gate's source, as-of date and threshold.
    "Why: {{ (exception | string | trim)[:600] if exception else 'see the log' }}\n"
    "Log: {{ ti.log_url }}"
)
# DAG-level failures (e.g. dagrun_timeout): the DAG processor's context may hold only dag,
# run_id and reason.
RUN_FAILED = (
    ":red_circle: starlink42k DAG run failed\n"
    "DAG: {{ dag.dag_id }}\n"
    "Run: {{ run_id }}\n"
    "Reason: {{ reason | default('see the run in the UI', true) }}"
)


class SlackNotifier(SlackWebhookNotifier):
    """SlackWebhookNotifier, made to work wherever Airflow 3.3 calls it:

    - `airflow dags test` (make airflow-run) runs DAG callbacks with the scheduler's SerializedDAG in
      the context, which has no template environment: the stock notifier raises "'SerializedDAG'
      object has no attribute 'get_template_env'" and the run-level alert is lost. The DAG
      processor (the cluster, `airflow standalone`) passes the parsed DAG. Without a DAG's
      environment, the message renders in a plain sandboxed one (it uses no DAG macros).
    - Rendering replaces the template by its result, on the one notifier default_args give every
      task: a second failure in the same process (`dags test` runs every task in one) would post
      the first one's text. Each call renders a copy.
    """

    def __call__(self, *args: Any) -> None:
        return SlackWebhookNotifier.__call__(copy.copy(self), *args)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        if jinja_env is None and not hasattr(context.get("dag"), "get_template_env"):
            jinja_env = self.get_template_env(dag=None)
        super().render_template_fields(context, jinja_env)


def task_failed() -> SlackNotifier:
    return SlackNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=TASK_FAILED)


def run_failed() -> SlackNotifier:
    return SlackNotifier(slack_webhook_conn_id=SLACK_CONN_ID, text=RUN_FAILED)


def default_args() -> dict[str, Any]:
    """Every task: 3 retries after about 1, 2, 4 minutes (Airflow adds up to 100% jitter; capped
    at 15), then one alert."""
    return {
        "owner": "data-platform",
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        # A multiplier since Airflow 3.1: True would mean 1.0, i.e. a constant delay.
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
        # A hung API call or pod must not hold the run until dagrun_timeout.
        "execution_timeout": timedelta(minutes=45),
        "on_failure_callback": task_failed(),
    }
