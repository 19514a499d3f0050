"""starlink_answer_changed: scheduled on data, not on time: each new answer of starlink_pipeline
(its `report` task's asset, starlink/report/answer) runs it. It compares the new answer's forecast
months with the previous answer's and, when a scenario's month changed, posts the summary to Slack
(connection `slack_alerts`; without it, the message is only logged).

An example of what a team builds on the answer's asset: the answer is read from the lake (see
starlink/answers.py), the previous one through the asset's previous event.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task
from starlink import alerts, answers, assets

log = logging.getLogger(__name__)

with DAG(
    dag_id="starlink_answer_changed",
    description="Posts the answer to Slack when the forecast month changes",
    doc_md=__doc__,
    schedule=[assets.ANSWER],
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    # One read of the lake and one post: a run still going after this is stuck, not slow.
    dagrun_timeout=timedelta(minutes=30),
    default_args={**alerts.default_args(), "retries": 1},
    tags=["starlink42k"],
):

    @task(inlets=[assets.ANSWER])
    def post_if_the_forecast_changed(**context: Any) -> str | None:
        events = context["inlet_events"][assets.ANSWER]
        current_ds = context["triggering_asset_events"][assets.ANSWER][-1].extra["ds"]
        previous = None
        earlier = [e for e in list(events)[:-1] if e.extra.get("ds") and e.extra["ds"] != current_ds]
        if earlier:
            previous = answers.read(earlier[-1].extra["ds"])
        message = answers.change_message(answers.read(current_ds), previous)
        if message is None:
            log.info("forecast months unchanged since ds %s: nothing to post", previous and previous["ds"])
            return None
        try:
            from airflow.providers.slack.hooks.slack_webhook import SlackWebhookHook

            SlackWebhookHook(slack_webhook_conn_id=alerts.SLACK_CONN_ID).send(text=message)
        except Exception as exc:  # an optional connection: the message still reaches the log
            log.warning("not posted to Slack (%s): %s", exc, message)
        return message

    post_if_the_forecast_changed()
