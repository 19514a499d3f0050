"""What a run of starlink_pipeline costs on a kind node, per design, without a cluster: `make airflow-bench`.

Every count comes from objects, not from a list written here: the DAG as Airflow parses it
(kubernetes mode), each task's executor and operator settings (an EmptyOperator Airflow skips; a
task that starts and ends in the triggerer; a deferrable sensor; a pod operator and the pod it
builds, with its requests), and the cluster as the charts render it (`helm template` of our chart
and of the Airflow chart with k8s/airflow-values.yaml: what every resident pod requests, the
worker pod template, the executor, [core] parallelism). Times come from stated per-pod costs
(Params; defaults: the run timed on a real 2-CPU node in issue 17, and the triggerer's hop measured
here on real Airflow processes), played out by a small event simulation: a task starts when its
upstream tasks are done, a worker slot is free (parallelism, the DAG's max_active_tasks) and the
node has room for its pods' requests (else it waits, "Insufficient cpu").

Designs:
  as-was            the DAG before issue 17: cosmos' stock watcher render (a run and a test sensor
                    per model, each a deferrable sensor on a worker pod, a second pod to resume)
  after-all         cosmos' stock watcher render, TestBehavior.AFTER_ALL: a run sensor per model,
                    one `dbt test` pod at the end
  pod-per-model     cosmos' ExecutionMode.KUBERNETES, TestBehavior.BUILD: a `dbt build` pod per model
  after-each+trig   as-was, its sensors started and ended in the triggerer (what-if)
  new               the DAG as it is: one task per model's build, started and ended in the triggerer
  new+local         new, the pod operators' launchers on a LocalExecutor beside the scheduler (what-if)

Usage: python tests/benchmarks/dag_cost.py [--producer-s 25] [--json] [--design new ...]
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import functools
import heapq
import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "airflow" / "dags"
KUBERNETES_EXECUTOR = "KubernetesExecutor"


@dataclass(frozen=True)
class Params:
    """Per-pod costs, in seconds, and the node. Defaults: issue 17's run on a real 2-CPU node."""

    worker_start_s: float = 15.0  # worker pod created -> task starts in it (median 14-17 s)
    pod_s: dict[str, float] = field(
        default_factory=lambda: {
            "extract": 15.0,  # extract, to-csv, load: 12-18 s each
            "to_csv": 15.0,
            "load": 15.0,
            "freshness": 13.0,
            "dbt_producer_watcher": 83.0,  # the one `dbt build` pod
            "report": 21.0,
            "dbt_docs": 26.0,
            "model_build": 20.0,  # a `dbt build --select <model>` pod: pod and dbt start, one model
            "dbt_test": 30.0,  # a `dbt test` pod of the whole project
        }
    )
    # a chained task's end -> the next one deferred by the scheduler and ended by the triggerer:
    # scheduler_s + this (measured on real Airflow processes here: 3.0 s end to end)
    trigger_hop_s: float = 2.0
    poke_s: float = 2.0  # a sensor's synchronous poke in its worker pod before it defers
    scheduler_s: float = 1.0  # a task's end -> its downstream task queued
    local_start_s: float = 3.0  # a LocalExecutor task process starting beside the scheduler
    node_cpu_m: int = 2000  # the kind node: the host's 2 CPUs and 8 GB (kind-config.yaml's worker)
    node_memory_mi: int = 8192
    # kind's own pods that may run on the node (kindnet, the two CoreDNS) and the memory the kubelet
    # keeps free: tests/k8s/test_k8s_capacity.py's figures
    system_cpu_m: int = 300
    system_memory_mi: int = 190 + 100

    def pod_seconds(self, task_id: str, producer_s: float | None = None) -> float:
        """The stated time of the pod `task_id` starts (its step: the task id's last part)."""
        step = task_id.rsplit(".", 1)[-1]
        if step == "dbt_producer_watcher" and producer_s is not None:
            return producer_s
        if step in self.pod_s:
            return self.pod_s[step]
        if step.endswith("_model_build"):  # cosmos' pod-per-model render
            return self.pod_s["model_build"]
        if step.endswith("_test"):  # cosmos' AFTER_ALL test task
            return self.pod_s["dbt_test"]
        raise KeyError(f"no stated pod time for {task_id}: add its step to Params.pod_s")


# --- the cluster, as the charts render it -----------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    executor: str
    parallelism: int
    worker_requests: tuple[int, int]  # (cpu m, memory Mi) of a KubernetesExecutor worker pod
    resident: dict[str, tuple[int, int]]  # pod -> (cpu m, memory Mi), every pod the charts run


def quantity_m(value: str | int | float) -> int:
    text = str(value)
    return int(text[:-1]) if text.endswith("m") else int(float(text) * 1000)


def quantity_mi(value: str | int) -> int:
    text = str(value)
    for suffix, factor in (("Gi", 1024), ("Mi", 1), ("Ki", 1 / 1024), ("G", 1000**3 / 2**20), ("M", 1000**2 / 2**20)):
        if text.endswith(suffix):
            return round(float(text[: -len(suffix)]) * factor)
    return round(int(text) / 2**20)


def pod_requests(spec: dict[str, Any]) -> tuple[int, int]:
    """What the scheduler reserves for a pod: the larger of its biggest init container and the sum
    of its containers (Kubernetes' rule)."""

    def requests(containers: Iterable[dict]) -> list[tuple[int, int]]:
        found = []
        for c in containers:
            r = (c.get("resources") or {}).get("requests") or {}
            found.append((quantity_m(r.get("cpu", 0)), quantity_mi(r.get("memory", 0))))
        return found

    main = requests(spec.get("containers", []))
    init = requests(spec.get("initContainers") or spec.get("init_containers") or [])
    return (
        max(sum(c for c, _ in main), max((c for c, _ in init), default=0)),
        max(sum(m for _, m in main), max((m for _, m in init), default=0)),
    )


def render_cluster() -> Cluster:
    """Our chart and the Airflow chart (with k8s/airflow-values.yaml), rendered by helm."""
    import configparser

    import yaml

    sys.path.insert(0, str(ROOT / "tests" / "k8s"))
    from k8s_helpers import CHART, NAMESPACE, airflow_chart_dir, extract_helm, render_airflow_chart, run_helm

    helm = extract_helm(Path(tempfile.gettempdir()) / "starlink42k-helm")
    platform = run_helm(helm, "template", "starlink", str(CHART), "--namespace", NAMESPACE).stdout
    objects = [o for o in yaml.safe_load_all(platform) if o] + render_airflow_chart(helm, airflow_chart_dir(), [])
    resident = {}
    for o in objects:
        if o["kind"] in ("Deployment", "StatefulSet"):
            replicas = o["spec"].get("replicas", 1)
            cpu, memory = pod_requests(o["spec"]["template"]["spec"])
            resident[f"{o['kind']}/{o['metadata']['name']}"] = (cpu * replicas, memory * replicas)
    config_maps = {o["metadata"]["name"]: o.get("data", {}) for o in objects if o["kind"] == "ConfigMap"}
    airflow_config = config_maps["airflow-config"]  # release `airflow`, as `make cluster-up` installs it
    cfg = configparser.ConfigParser(strict=False, interpolation=None)
    cfg.read_string(airflow_config["airflow.cfg"])
    template = yaml.safe_load(airflow_config["pod_template_file.yaml"])
    return Cluster(
        executor=cfg.get("core", "executor"),
        parallelism=cfg.getint("core", "parallelism", fallback=32),
        worker_requests=pod_requests(template["spec"]),
        resident=resident,
    )


# --- the designs, as Airflow parses them --------------------------------------------------------------


def _airflow_env() -> None:
    """What the DAG needs to parse, where nothing is set (make airflow-bench); the tests set their own."""
    home = tempfile.mkdtemp(prefix="dag-cost-")
    for name, value in {
        "AIRFLOW_HOME": home,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": os.path.join(home, "cosmos"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
    }.items():
        os.environ.setdefault(name, value)
    if str(DAGS) not in sys.path:
        sys.path.insert(0, str(DAGS))


@contextlib.contextmanager
def kubernetes_mode() -> Iterator[None]:
    """The DAG's settings in the cluster (the Airflow values and image set them; any tag will do)."""
    _airflow_env()
    mode = {"STARLINK_EXECUTION": "kubernetes", "STARLINK_IMAGE_TAG": "cost"}
    before = {name: os.environ.get(name) for name in mode}
    os.environ.update(mode)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name)
            else:
                os.environ[name] = value


@functools.cache
def pipeline_dag() -> Any:
    """starlink_pipeline in kubernetes mode, as the cluster's DAG processor parses it (parsed once;
    a design that changes its tasks changes a copy)."""
    with kubernetes_mode():
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS / "starlink_pipeline.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags["starlink_pipeline"]


def stock_group(execution_mode: str, test_behavior: str) -> dict[str, Any]:
    """cosmos' own render of the dbt step, with the DAG's pod defaults: task id -> task."""
    with kubernetes_mode():
        return _stock_group(execution_mode, test_behavior)


def _stock_group(execution_mode: str, test_behavior: str) -> dict[str, Any]:
    from airflow.sdk import DAG
    from cosmos import DbtTaskGroup, ExecutionConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, LoadMode, TestBehavior
    from starlink import config, kubernetes, tasks

    start = datetime(2024, 1, 1, tzinfo=UTC)
    with DAG(dag_id=f"stock_{execution_mode}_{test_behavior}", schedule=None, start_date=start) as dag:
        DbtTaskGroup(
            group_id="dbt",
            project_config=ProjectConfig(
                manifest_path=config.manifest_path(), project_name=tasks.DBT_PROJECT_NAME, install_dbt_deps=False
            ),
            execution_config=ExecutionConfig(
                execution_mode=ExecutionMode(execution_mode), dbt_project_path=kubernetes.DBT_PROJECT_DIR
            ),
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior(test_behavior), emit_datasets=False
            ),
            operator_args={**kubernetes.dbt_pod(), "vars": tasks.dbt_vars()},
        )
    return {t.task_id: t for t in dag.tasks}


def with_group(dag: Any, group: dict[str, Any]) -> dict[str, tuple[Any, set[str]]]:
    """The DAG's tasks with its `dbt` group replaced by `group`: task id -> (task, upstream ids). The
    group's roots wait for what the DAG's group waited for; what waited for the group's last tasks
    waits for the new group's."""
    outside = {t.task_id: t for t in dag.tasks if not t.task_id.startswith("dbt.")}
    inner = {t.task_id for t in dag.tasks if t.task_id.startswith("dbt.")}
    before = {u for t in inner for u in dag.get_task(t).upstream_task_ids} - inner
    after = {d for t in inner for d in dag.get_task(t).downstream_task_ids} - inner
    leaves = {tid for tid, t in group.items() if not set(t.downstream_task_ids) & set(group)}
    graph = {}
    for tid, t in outside.items():
        ups = set(t.upstream_task_ids) - inner
        graph[tid] = (t, ups | (leaves if tid in after else set()))
    for tid, t in group.items():
        ups = set(t.upstream_task_ids) & set(group)
        graph[tid] = (t, ups or set(before))
    return graph


def as_is(dag: Any) -> dict[str, tuple[Any, set[str]]]:
    return {t.task_id: (t, set(t.upstream_task_ids)) for t in dag.tasks}


def started_in_triggerer(graph: dict[str, tuple[Any, set[str]]]) -> dict[str, tuple[Any, set[str]]]:
    """What-if: the stock sensors started and ended in the triggerer (polling as they poke)."""
    from airflow.sdk.bases.sensor import BaseSensorOperator
    from airflow.triggers.base import StartTriggerArgs

    for task, _ in graph.values():
        if isinstance(task, BaseSensorOperator):
            task.start_from_trigger = True
            task.start_trigger_args = StartTriggerArgs(
                trigger_cls="what-if",
                next_method="execute_complete",
                trigger_kwargs={"poke_interval": float(task.poke_interval), "end_from_trigger": True},
            )
    return graph


def launchers_on(executor: str, graph: dict[str, tuple[Any, set[str]]]) -> dict[str, tuple[Any, set[str]]]:
    """What-if: every task that runs on a worker runs on `executor` instead (`executor=` per task)."""
    for task, _ in graph.values():
        if not getattr(task, "start_from_trigger", False):
            task.executor = executor
    return graph


DESIGNS = ("as-was", "after-all", "pod-per-model", "after-each+trig", "new", "new+local")


def design(name: str) -> tuple[int, dict[str, tuple[Any, set[str]]]]:
    """Design `name`: its DAG's max_active_tasks, and its task graph (task id -> (task, upstream ids))."""
    dag = copy.deepcopy(pipeline_dag())
    if name == "new":
        return dag.max_active_tasks, as_is(dag)
    if name == "new+local":
        return dag.max_active_tasks, launchers_on("LocalExecutor", as_is(dag))
    stock = {
        "as-was": ("watcher_kubernetes", "after_each"),
        "after-each+trig": ("watcher_kubernetes", "after_each"),
        "after-all": ("watcher_kubernetes", "after_all"),
        "pod-per-model": ("kubernetes", "build"),
    }[name]
    graph = with_group(dag, stock_group(*stock))
    # The DAG before issue 17 had no max_active_tasks of its own: Airflow's default.
    from airflow.configuration import conf

    return conf.getint("core", "max_active_tasks_per_dag"), (
        started_in_triggerer(graph) if name == "after-each+trig" else graph
    )


# --- what each task costs, from its settings -------------------------------------------------------


@dataclass
class Task:
    task_id: str
    kind: str  # empty | triggerer | sensor | pod | other
    on_worker: bool  # runs in a KubernetesExecutor worker pod
    upstream: set[str]
    pod: tuple[int, int] | None = None  # requests of the pod it starts
    model: str | None = None  # the dbt node a watcher task mirrors
    poll_s: float = 0.0  # how often a trigger or sensor looks again


def classify(task: Any, upstream: set[str], cluster: Cluster) -> Task:
    from airflow.models.taskinstance import TaskInstance
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk.bases.sensor import BaseSensorOperator

    executor = getattr(task, "executor", None) or cluster.executor
    model = getattr(task, "model_unique_id", None)
    if not TaskInstance.is_task_schedulable(task):
        return Task(task.task_id, "empty", False, upstream)
    start = getattr(task, "start_trigger_args", None)
    if task.start_from_trigger and start and (start.trigger_kwargs or {}).get("end_from_trigger"):
        poll = float((start.trigger_kwargs or {}).get("poke_interval", 5.0))
        return Task(task.task_id, "triggerer", False, upstream, model=model, poll_s=poll)
    on_worker = executor == KUBERNETES_EXECUTOR
    if isinstance(task, BaseSensorOperator):
        assert task.deferrable, f"{task.task_id}: a sensor that holds its worker pod while it waits"
        return Task(task.task_id, "sensor", on_worker, upstream, model=model, poll_s=float(task.poke_interval))
    if isinstance(task, KubernetesPodOperator):
        from kubernetes.client import ApiClient

        pod = ApiClient().sanitize_for_serialization(task.build_pod_request_obj(None, dry_run=True))
        return Task(task.task_id, "pod", on_worker, upstream, pod=pod_requests(pod["spec"]))
    return Task(task.task_id, "other", on_worker, upstream)


# --- the run, played out ---------------------------------------------------------------------------------


@dataclass
class Result:
    design: str
    tasks: int
    executing: int
    in_triggerer: int
    worker_pods: int
    pods: int
    peak_worker_pods: int
    peak_cpu_m: int
    peak_memory_mi: int
    allocatable_cpu_m: int
    allocatable_memory_mi: int
    waited_for_room: int
    wall_s: float
    limit: int
    ended: dict[str, float] = field(default_factory=dict, repr=False)  # task id -> when it ended (s)


def model_done_times(tasks: dict[str, Task], producer: str, start: float, seconds: float) -> dict[str, float]:
    """When the producer's `dbt build` finishes each watched node: level by level of the model
    graph, spread over the pod's time (dbt runs a level's models in parallel, then their tests)."""
    depth: dict[str, int] = {}

    def level(tid: str) -> int:
        if tid not in depth:
            ups = [u for u in tasks[tid].upstream if tasks[u].model]
            depth[tid] = 1 + max((level(u) for u in ups), default=0)
        return depth[tid]

    watched = [t for t in tasks.values() if t.model]
    deepest = max((level(t.task_id) for t in watched), default=1)
    return {t.task_id: start + seconds * level(t.task_id) / deepest for t in watched}


def simulate(
    name: str,
    max_active_tasks: int,
    graph: dict[str, tuple[Any, set[str]]],
    cluster: Cluster,
    params: Params,
    producer_s: float | None = None,
) -> Result:
    """Play one run of `graph` out, at most max_active_tasks of its tasks queued or running."""
    with kubernetes_mode():  # the pods are built as in the cluster
        tasks = {tid: classify(task, ups, cluster) for tid, (task, ups) in graph.items()}
    limit = min(cluster.parallelism, max_active_tasks)
    resident_cpu = sum(c for c, _ in cluster.resident.values()) + params.system_cpu_m
    resident_mem = sum(m for _, m in cluster.resident.values()) + params.system_memory_mi
    free = [params.node_cpu_m - resident_cpu, params.node_memory_mi - resident_mem]
    peak = [0, 0]
    worker_pods = pods = peak_workers = 0
    starved: set[str] = set()  # tasks that waited for room on the node (pods pending: Insufficient cpu)
    on_workers = 0
    done: dict[str, float] = {}
    model_done: dict[str, float] = {}
    producer = next((tid for tid in tasks if tid.endswith("dbt_producer_watcher")), None)
    events: list[tuple[float, int, str, str]] = []  # (time, seq, what, task id)
    seq = 0
    ready: list[tuple[float, str, str]] = []  # (since, task id, phase)
    holding: dict[str, tuple[int, int]] = {}

    def push(t: float, what: str, tid: str) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(events, (t, seq, what, tid))

    def release(tid: str) -> None:
        nonlocal on_workers
        cpu, mem = holding.pop(tid)
        free[0] += cpu
        free[1] += mem
        on_workers -= 1

    def finish(tid: str, t: float) -> None:
        done[tid] = t
        for other in tasks.values():
            if tid in other.upstream and other.task_id not in done and other.upstream <= done.keys():
                push(t + params.scheduler_s, "ready", other.task_id)

    for tid, task in tasks.items():
        if not task.upstream:
            push(0.0, "ready", tid)
    now = 0.0
    while events or ready:
        # Start what can start: a worker slot and room on the node for the worker and its pod.
        for since, tid, phase in sorted(ready, key=lambda r: r[0]):
            task = tasks[tid]
            need = cluster.worker_requests if task.on_worker else (0, 0)
            if task.pod and phase == "run":
                need = (need[0] + task.pod[0], need[1] + task.pod[1])
            if task.on_worker and on_workers >= limit:
                continue
            if need[0] > free[0] or need[1] > free[1]:
                starved.add(tid)
                continue
            ready.remove((since, tid, phase))
            holding[tid] = need
            free[0] -= need[0]
            free[1] -= need[1]
            on_workers += 1
            used = (params.node_cpu_m - free[0], params.node_memory_mi - free[1])
            peak = [max(peak[0], used[0]), max(peak[1], used[1])]
            worker_pods += task.on_worker
            peak_workers = max(peak_workers, on_workers if task.on_worker else 0)
            start = params.worker_start_s if task.on_worker else params.local_start_s
            if task.kind == "pod":
                pods += 1
                seconds = params.pod_seconds(tid, producer_s)
                if tid == producer:
                    model_done.update(model_done_times(tasks, producer, now + start, seconds))
                push(now + start + seconds, "end", tid)
            elif task.kind == "sensor" and phase == "run":
                push(now + start + params.poke_s, "poked", tid)
            else:  # a resumed sensor, or anything else: it starts and ends
                push(now + start, "end", tid)
        if not events:
            break
        now, _, what, tid = heapq.heappop(events)
        task = tasks[tid]
        if what == "ready":
            if task.kind == "empty":
                finish(tid, now)
            elif task.kind == "triggerer":
                # deferred at once; ends when its model is done in the producer (a poll later)
                push(max(now, model_done.get(tid, now) + task.poll_s / 2) + params.trigger_hop_s, "end-trigger", tid)
            else:
                ready.append((now, tid, "run"))
        elif what == "end-trigger":
            ends = model_done[tid] + task.poll_s / 2 + params.trigger_hop_s if tid in model_done else None
            if ends is not None and ends > now:
                push(ends, "end-trigger", tid)
            elif ends is not None or producer is None:
                finish(tid, now)
            else:  # the producer has not started yet: look again
                push(now + task.poll_s, "end-trigger", tid)
        elif what == "poked":
            release(tid)
            if model_done.get(tid, float("inf")) <= now:
                finish(tid, now)
            else:  # deferred: resumes on a new worker pod a poll after its model is done
                at = max(now, model_done.get(tid, now)) + task.poll_s / 2 + params.trigger_hop_s
                push(at, "resume", tid)
        elif what == "resume":
            if tid not in model_done:
                push(now + task.poll_s, "resume", tid)
            else:
                ready.append((now, tid, "resume"))
        elif what == "end":
            release(tid)
            finish(tid, now)
    missing = set(tasks) - done.keys()
    assert not missing, f"{name}: never ran {sorted(missing)}"
    executing = sum(t.kind != "empty" for t in tasks.values())
    return Result(
        design=name,
        tasks=len(tasks),
        executing=executing,
        in_triggerer=sum(t.kind == "triggerer" for t in tasks.values()),
        worker_pods=worker_pods,
        pods=pods,
        peak_worker_pods=peak_workers,
        peak_cpu_m=max(peak[0], resident_cpu),
        peak_memory_mi=max(peak[1], resident_mem),
        allocatable_cpu_m=params.node_cpu_m,
        allocatable_memory_mi=params.node_memory_mi,
        waited_for_room=len(starved),
        wall_s=max(done.values()),
        limit=limit,
        ended=done,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", action="append", choices=DESIGNS, help="default: all")
    parser.add_argument("--producer-s", type=float, help="the `dbt build` pod's time (default: Params)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeline", action="store_true", help="when each task ends")
    args = parser.parse_args()
    cluster = render_cluster()
    params = Params()
    results = [simulate(d, *design(d), cluster, params, args.producer_s) for d in args.design or DESIGNS]
    if args.json:
        print(json.dumps({"cluster": dataclasses.asdict(cluster), "results": [dataclasses.asdict(r) for r in results]}))
        return
    resident = sum(c for c, _ in cluster.resident.values()), sum(m for _, m in cluster.resident.values())
    print(
        f"cluster: {cluster.executor}, parallelism {cluster.parallelism}, worker pod {cluster.worker_requests[0]}m/"
        f"{cluster.worker_requests[1]}Mi; resident {len(cluster.resident)} pods {resident[0]}m/{resident[1]}Mi; "
        f"node {params.node_cpu_m}m/{params.node_memory_mi}Mi"
    )
    header = ("design", "tasks", "executing", "triggerer", "worker pods", "pipeline pods", "at once")
    header += ("peak cpu", "peak memory", "pods waited", "wall")
    print("  ".join(f"{h:>11}" for h in header))
    for r in results:
        print(
            "  ".join(
                f"{v:>11}"
                for v in (
                    r.design, r.tasks, r.executing, r.in_triggerer, r.worker_pods, r.pods, r.peak_worker_pods,
                    f"{r.peak_cpu_m}m", f"{r.peak_memory_mi}Mi", r.waited_for_room, f"{r.wall_s / 60:.1f} min",
                )
            )
        )  # fmt: skip
        if args.timeline:
            for tid, t in sorted(r.ended.items(), key=lambda e: e[1]):
                print(f"{t:>24.0f} s  {tid}")


if __name__ == "__main__":
    main()
