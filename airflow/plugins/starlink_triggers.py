"""The trigger of the DAG's per-model dbt tasks (starlink/kubernetes.py:
DbtBuildWatcherKubernetesOperator), which the scheduler starts straight in the triggerer.

Here, not beside the DAGs: the triggerer imports a trigger by its path, and of this repository only
the plugins folder is on its path (the Airflow image copies this folder to /opt/airflow/plugins;
`make airflow-ui` and the tests point AIRFLOW__CORE__PLUGINS_FOLDER at it). .airflowignore keeps
Airflow's plugin loader from importing it (and cosmos) into every component at start.

DbtBuildWatcherTrigger is cosmos' WatcherTrigger for one model's `dbt build` inside the producer's
`dbt build` pod: the model's status, then (if it has tests) their aggregated status, from the XComs
the producer pushes as it reads dbt's JSON log. With `end_from_trigger` (Airflow's name for it) the
task ends here, with no worker pod:

    model success, tests pass (or none)         TaskSuccessEvent
    model or a test failed                      TaskFailedEvent, dbt's message in the task's log;
                                                Airflow retries it as any task
    model skipped                               TaskSkippedEvent
    producer failed before reporting the model  TaskFailedEvent
    producer done without a word on the model   TaskSuccessEvent (an ephemeral or empty model)

A retry, or a clear in the UI, once the producer is over, and a producer that was skipped (its own
retry) resume on a worker instead, with cosmos' PRODUCER_SKIPPED event: cosmos' execute_complete
then runs `dbt build --select <model>` in a dbt pod of its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent, TriggerEvent
from cosmos.listeners.dag_run_listener import EventStatus
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    PRODUCER_FINAL_STATES,
    ProducerTaskState,
    get_dbt_event_xcom_key,
    is_dbt_node_status_failed,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
    is_producer_task_terminated,
)
from cosmos.operators._watcher.triggerer import WatcherEventReason, WatcherTrigger


class DbtBuildWatcherTrigger(WatcherTrigger):
    def __init__(
        self,
        model_unique_id: str,
        producer_task_id: str,
        tests: list[str] | None = None,
        poke_interval: float = 2.0,
        end_from_trigger: bool = True,
        dag_id: str | None = None,
        run_id: str | None = None,
        map_index: int | None = None,
    ) -> None:
        # dag_id, run_id and map_index are the task instance's, known in the triggerer only.
        super().__init__(
            model_unique_id=model_unique_id,
            producer_task_id=producer_task_id,
            dag_id=dag_id or "",
            run_id=run_id or "",
            map_index=map_index,
            poke_interval=poke_interval,
        )
        self.tests = list(tests or [])
        self.end_from_trigger = end_from_trigger

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_unique_id": self.model_unique_id,
                "producer_task_id": self.producer_task_id,
                "tests": self.tests,
                "poke_interval": self.poke_interval,
                "end_from_trigger": self.end_from_trigger,
                "dag_id": self.dag_id,
                "run_id": self.run_id,
                "map_index": self.map_index,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti = self.task_instance
        if ti is not None:
            self.dag_id, self.run_id, self.map_index = ti.dag_id, ti.run_id, ti.map_index
        retry = ti is not None and ti.try_number > 1
        self.log.info("Watching %s in %s (try %s)", self.model_unique_id, self.producer_task_id, ti and ti.try_number)
        while True:
            producer = await self._get_producer_task_status()
            if producer == ProducerTaskState.SKIPPED or (retry and is_producer_task_terminated(producer)):
                self.log.info(
                    "%s: the producer's build is over; dbt builds the model again, alone", self.model_unique_id
                )
                yield TriggerEvent({"status": EventStatus.FAILED, "reason": WatcherEventReason.PRODUCER_SKIPPED})
                return
            outcome = await self._outcome(producer)
            if outcome is not None:
                yield self._event(outcome)
                return
            await asyncio.sleep(self.poke_interval)

    async def _outcome(self, producer: str | None) -> str | None:
        """success, failed or skipped once known; None while the producer is still at it."""
        over = producer in (*PRODUCER_FINAL_STATES, "up_for_retry")  # its `dbt build` has ended
        model = await self._get_node_status()
        if is_dbt_node_status_failed(model):
            return await self._failed([self.model_unique_id], over)
        if is_dbt_node_status_skipped(model):
            self.log.info("dbt skipped %s", self.model_unique_id)
            return EventStatus.SKIPPED
        tests = None
        if is_dbt_node_status_success(model):
            if not self.tests:
                return EventStatus.SUCCESS
            tests = await self.get_xcom_val(get_tests_status_xcom_key(self.model_unique_id))
            if is_dbt_node_status_success(tests):
                self.log.info("%s built, its %s tests passed", self.model_unique_id, len(self.tests))
                return EventStatus.SUCCESS
            if is_dbt_node_status_failed(tests):
                return await self._failed(self.tests, over)
        if producer == ProducerTaskState.FAILED:
            self.log.error(
                "%s failed before it reported %s (model: %s, tests: %s): see its log",
                self.producer_task_id,
                self.model_unique_id,
                model,
                tests,
            )
            return EventStatus.FAILED
        if producer == ProducerTaskState.SUCCESS:
            self.log.info("%s is done and reported nothing more of %s", self.producer_task_id, self.model_unique_id)
            return EventStatus.SUCCESS
        return None

    async def _failed(self, unique_ids: list[str], over: bool) -> str | None:
        """Failed, with dbt's message for each node that did not pass in the task's log. dbt states
        why in the summary at the end of its run: until the producer's build is over, wait for it."""
        events = {uid: await self.get_xcom_val(get_dbt_event_xcom_key(uid)) for uid in unique_ids}
        failed = {uid: e for uid, e in events.items() if e and not is_dbt_node_status_success(e.get("status"))}
        if not any(e.get("msg") for e in failed.values()) and not over:
            return None
        for uid, event in failed.items():
            self.log.error("%s: %s", uid, event.get("msg") or event.get("status"))
        if not failed:
            self.log.error("%s failed: see %s's log", self.model_unique_id, self.producer_task_id)
        return EventStatus.FAILED

    def _event(self, status: str) -> TriggerEvent:
        if not self.end_from_trigger:  # the payload cosmos' execute_complete reads, on a worker
            reason = WatcherEventReason.NODE_FAILED if status == EventStatus.FAILED else None
            return TriggerEvent({"status": status, **({"reason": reason} if reason else {})})
        return {
            EventStatus.SUCCESS: TaskSuccessEvent,
            EventStatus.FAILED: TaskFailedEvent,
            EventStatus.SKIPPED: TaskSkippedEvent,
        }[status]()
