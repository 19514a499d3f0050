"""One fake cluster for every test of k8s/cluster.mk, k8s/e2e.py and the cluster scripts.

No Kubernetes can run here, so `kubectl`, `helm`, `kind` and `docker` are replaced by this module
(shims on PATH run `python fake_cluster.py <tool> ...`). It answers from real objects only:
- `helm upgrade --install` renders the chart with the REAL helm binary (`helm template`, with the
  same values files and --set flags, for the Kubernetes version of the kind node image), validates
  every object as the API server would (kubernetes-validate, strict), and stores the objects as the
  release's live state; a chart from `--repo` comes from FAKE_HELM_REPOS (url=dir) or fails as an
  unreachable repository does;
- `kubectl` evaluates label selectors (equality and set-based), field selectors, JSONPath output,
  rollout status, exec of `cat` and describe on those objects, and on pods derived from the
  workloads (one per replica, their template's labels, images and spec);
- `kind` creates clusters from the given kind config (node names and roles as kind names them),
  loads only images that `docker` has, and exports logs;
- `docker` builds (records a new image ID), inspects, saves.

Knobs (environment) model what goes wrong on a real cluster: FAKE_UNREADY (workloads whose pods
never get ready), FAKE_STALE (deployments an upgrade leaves on their previous template),
FAKE_KIND_LOAD_FAILS, FAKE_DOCKER_BUILD_FAILS, FAKE_KIND_VERSION. Every call is appended to
calls.log in the state directory (FAKE_CLUSTER_STATE).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

STATE_ENV = "FAKE_CLUSTER_STATE"
HERE = Path(__file__).resolve().parent
TOOLS = ("kubectl", "helm", "kind", "docker")


class ToolError(Exception):
    """The tool fails: message to stderr, exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# --- installing the shims ---------------------------------------------------------------------------


def install(bin_dir: Path, state: Path, helm: Path, **env: str) -> None:
    """Shims for kubectl, helm, kind and docker in bin_dir, bound to this state directory and the
    real helm binary (the shims carry them, so a recipe's own environment cannot lose them)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    fixed = {STATE_ENV: str(state), "FAKE_HELM_BIN": str(helm), **env}
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in fixed.items())
    for tool in TOOLS:
        shim = bin_dir / tool
        shim.write_text(
            f'#!/bin/sh\n{exports}exec {shlex.quote(sys.executable)} {shlex.quote(str(Path(__file__)))} {tool} "$@"\n'
        )
        shim.chmod(0o755)


# --- state --------------------------------------------------------------------------------------------


class State:
    """JSON documents in the state directory; every tool call loads and saves them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def load(self, name: str, default: Any) -> Any:
        path = self.root / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else default

    def save(self, name: str, value: Any) -> None:
        tmp = self.root / f".{name}.json.tmp"
        tmp.write_text(json.dumps(value, indent=1))
        tmp.replace(self.root / f"{name}.json")

    def log(self, line: str) -> None:
        with (self.root / "calls.log").open("a") as log:
            log.write(line + "\n")


def knob(name: str) -> list[str]:
    return [v for v in os.environ.get(name, "").replace(",", " ").split() if v]


# --- selectors -----------------------------------------------------------------------------------------


def split_selector(text: str) -> list[str]:
    """Split at commas outside parentheses: `a in (x,y),b!=c` -> two requirements."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def label_matches(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes label selector semantics (equality- and set-based)."""
    for req in split_selector(selector):
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", req):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in" and labels.get(key) not in values:
                return False
            if op == "notin" and key in labels and labels[key] in values:
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)", req):
            key, op, value = m.groups()
            if op == "!=" and labels.get(key) == value:
                return False
            if op != "!=" and labels.get(key) != value:
                return False
        elif m := re.fullmatch(r"(!?)([\w./-]+)", req):
            if bool(m.group(1)) == (m.group(2) in labels):
                return False
        else:
            raise ToolError(f'error: unable to parse requirement: "{req}"')
    return True


FIELDS = {
    "Pod": {"metadata.name", "metadata.namespace", "spec.nodeName", "spec.serviceAccountName", "status.phase"},
}


def field_matches(selector: str, kind: str, obj: dict) -> bool:
    for req in split_selector(selector):
        m = re.fullmatch(r"([\w.]+)\s*(==|=|!=)\s*(.*)", req)
        if not m:
            raise ToolError(f'error: invalid field selector: "{req}"')
        path, op, value = m.groups()
        if path not in FIELDS.get(kind, {"metadata.name", "metadata.namespace"}):
            raise ToolError(f"Error from server (BadRequest): field label not supported: {path}")
        actual: Any = obj
        for part in path.split("."):
            actual = (actual or {}).get(part)
        if (op == "!=") == (str(actual) == value):
            return False
    return True


# --- kubectl's JSONPath (the subset kubectl -o jsonpath supports that this project uses) ----------


def jsonpath(template: str, data: Any) -> str:
    tokens = re.findall(r'\{((?:"(?:[^"\\]|\\.)*"|[^}])*)\}|([^{]+)', template)
    out: list[str] = []
    _render(tokens, 0, data, out)
    return "".join(out)


def _render(tokens: list[tuple[str, str]], i: int, data: Any, out: list[str]) -> int:
    while i < len(tokens):
        action, text = tokens[i]
        if text:
            out.append(text)
        elif action.strip() == "end":
            return i
        elif action.startswith("range "):
            body_start = i + 1
            items = _path(action[len("range ") :].strip(), data)
            end = _skip_block(tokens, body_start)
            for item in items:
                _render(tokens, body_start, item, out)
            i = end
        elif action.startswith('"'):
            out.append(json.loads(action))
        else:
            out.append(" ".join(_format(v) for v in _path(action.strip(), data)))
        i += 1
    return i


def _skip_block(tokens: list[tuple[str, str]], i: int) -> int:
    depth = 0
    while i < len(tokens):
        action = tokens[i][0].strip()
        if action.startswith("range "):
            depth += 1
        elif action == "end":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    raise ToolError("error: error parsing jsonpath: unclosed range")


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _path(expr: str, data: Any) -> list[Any]:
    if not expr.startswith((".", "@", "[")):
        raise ToolError(f"error: error parsing jsonpath {{{expr}}}: unrecognized identifier {expr}")
    steps = re.findall(r"\[\?\(@\.([\w.-]+)\s*==\s*[\"']([^\"']*)[\"']\)\]|\[(\*|\d+)\]|\.((?:[\w-]|\\\.|/)+)", expr)
    values = [data]
    for filter_key, filter_value, index, name in steps:
        nxt: list[Any] = []
        for value in values:
            if name:
                key = name.replace("\\.", ".")
                if isinstance(value, dict) and key in value:
                    nxt.append(value[key])
            elif index == "*":
                nxt.extend(value if isinstance(value, list) else (value or {}).values())
            elif index:
                if isinstance(value, list) and int(index) < len(value):
                    nxt.append(value[int(index)])
            else:
                for item in value if isinstance(value, list) else []:
                    found: Any = item
                    for part in filter_key.split("."):
                        found = found.get(part) if isinstance(found, dict) else None
                    if str(found) == filter_value:
                        nxt.append(item)
        values = nxt
    return values


# --- the cluster's objects ------------------------------------------------------------------------------

ALIASES = {
    "deployment": "Deployment", "deployments": "Deployment", "deploy": "Deployment",
    "statefulset": "StatefulSet", "statefulsets": "StatefulSet", "sts": "StatefulSet",
    "pod": "Pod", "pods": "Pod", "po": "Pod",
    "secret": "Secret", "secrets": "Secret",
    "configmap": "ConfigMap", "configmaps": "ConfigMap", "cm": "ConfigMap",
    "service": "Service", "services": "Service", "svc": "Service",
    "node": "Node", "nodes": "Node", "no": "Node",
    "namespace": "Namespace", "namespaces": "Namespace", "ns": "Namespace",
    "job": "Job", "jobs": "Job",
    "networkpolicy": "NetworkPolicy", "networkpolicies": "NetworkPolicy", "netpol": "NetworkPolicy",
}  # fmt: skip
CLUSTER_SCOPED = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "PriorityClass", "StorageClass"}


@dataclass
class Cluster:
    """The live objects of one kind cluster: helm releases, applied objects, and what follows."""

    state: State
    name: str

    @property
    def info(self) -> dict:
        clusters = self.state.load("kind", {})
        if self.name not in clusters:
            raise ToolError(f'error: context "kind-{self.name}" does not exist')
        return clusters[self.name]

    def stored_objects(self) -> list[dict]:
        releases = self.state.load(f"releases-{self.name}", {})
        objs = [o for r in releases.values() for o in r["objects"]]
        return objs + self.state.load(f"applied-{self.name}", [])

    def objects(self, kind: str) -> list[dict]:
        if kind == "Pod":
            return self.pods()
        if kind == "Node":
            return self.nodes()
        return [o for o in self.stored_objects() if o["kind"] == kind]

    def nodes(self) -> list[dict]:
        nodes = self.info["nodes"]
        workers = [n for n in nodes if n["role"] == "worker"]
        out = []
        for node in nodes:
            # kind taints its control-plane nodes when the cluster has workers.
            control_plane = node["role"] == "control-plane"
            role = "node-role.kubernetes.io/control-plane"
            taints = [{"key": role, "effect": "NoSchedule"}] if control_plane and workers else []
            labels = {"kubernetes.io/hostname": node["name"], **({role: ""} if control_plane else {})}
            out.append({
                "apiVersion": "v1", "kind": "Node", "metadata": {"name": node["name"], "labels": labels},
                "spec": {"taints": taints} if taints else {},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]},
            })  # fmt: skip
        return out

    def pods(self) -> list[dict]:
        """One pod per replica of each workload, as its controller would create it."""
        unready = set(knob("FAKE_UNREADY"))
        nodes = [n["metadata"]["name"] for n in self.nodes() if not n["spec"].get("taints")]
        pods = []
        for obj in self.stored_objects():
            kind, meta = obj["kind"], obj["metadata"]
            if kind not in ("Deployment", "StatefulSet", "Job"):
                continue
            template = obj["spec"]["template"]
            replicas = obj["spec"].get("replicas", 1) if kind != "Job" else 1
            digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
            for index in range(replicas):
                name = f"{meta['name']}-{index}" if kind == "StatefulSet" else f"{meta['name']}-{digest}-{index:05d}"
                broken = meta["name"] in unready
                phase = "Succeeded" if kind == "Job" else ("Pending" if broken else "Running")
                containers = template["spec"]["containers"]
                pods.append({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": meta["namespace"],
                                 "labels": dict(template.get("metadata", {}).get("labels") or {}),
                                 "ownerReferences": [{"kind": kind, "name": meta["name"]}]},
                    "spec": {**template["spec"], "nodeName": nodes[0] if nodes else ""},
                    "status": {
                        "phase": phase,
                        "conditions": [{"type": "Ready", "status": "False" if broken or kind == "Job" else "True"}],
                        "containerStatuses": [
                            {"name": c["name"], "image": c["image"], "ready": not broken and kind != "Job",
                             "state": {"waiting": {"reason": "ContainersNotReady"}} if broken else {"running": {}}}
                            for c in containers
                        ],
                    },
                })  # fmt: skip
        return pods

    def select(self, kind: str, namespace: str | None, name: str | None, labels: str, fields: str) -> list[dict]:
        found = []
        for obj in self.objects(kind):
            meta = obj["metadata"]
            if kind not in CLUSTER_SCOPED and namespace is not None and meta.get("namespace") != namespace:
                continue
            if name is not None and meta["name"] != name:
                continue
            if labels and not label_matches(labels, meta.get("labels") or {}):
                continue
            if fields and not field_matches(fields, kind, obj):
                continue
            found.append(obj)
        return found


def kube_version_of(node_image: str) -> str:
    m = re.fullmatch(r"kindest/node:v(\d+\.\d+)\.\d+(@sha256:[0-9a-f]{64})?", node_image)
    if not m:
        raise ToolError(f"ERROR: the fake cannot tell the Kubernetes version of node image {node_image}")
    return f"{m.group(1)}.0"


# --- kind -----------------------------------------------------------------------------------------------


def kind_main(state: State, args: list[str]) -> str:
    opts, rest = parse_flags(args, {"--name": "name", "--config": "config", "--wait": "wait", "--nodes": "nodes"})
    clusters = state.load("kind", {})
    name = opts.get("name", "kind")
    command = " ".join(rest[:2])
    if rest[:1] == ["version"]:
        return os.environ.get("FAKE_KIND_VERSION", "kind v0.33.0 go1.24.6 linux/amd64") + "\n"
    if command == "get clusters":
        return "".join(f"{c}\n" for c in clusters)
    if command == "create cluster":
        if name in clusters:
            raise ToolError(f'ERROR: failed to create cluster: node(s) already exist for a cluster named "{name}"')
        config = yaml.safe_load(Path(opts["config"]).read_text())
        nodes, counts = [], {"control-plane": 0, "worker": 0}
        for node in config["nodes"]:
            role = node["role"]
            counts[role] += 1
            suffix = "" if counts[role] == 1 else str(counts[role])
            nodes.append({"name": f"{name}-{role}{suffix}", "role": role, "image": node["image"], "images": []})
        clusters[name] = {"nodes": nodes}
        state.save("kind", clusters)
        return f'Creating cluster "{name}" ...\nSet kubectl context to "kind-{name}"\n'
    if name not in clusters and command != "get clusters":
        raise ToolError(f'ERROR: unknown cluster "{name}"')
    if command == "delete cluster":
        del clusters[name]
        state.save("kind", clusters)
        for doc in (f"releases-{name}", f"applied-{name}"):
            (state.root / f"{doc}.json").unlink(missing_ok=True)
        return f'Deleting cluster "{name}" ...\n'
    if command == "get nodes":
        return "".join(f"{n['name']}\n" for n in clusters[name]["nodes"])
    if command in ("load docker-image", "load image-archive"):
        nodes = clusters[name]["nodes"]
        wanted = opts["nodes"].split(",") if opts.get("nodes") else [n["name"] for n in nodes]
        unknown = set(wanted) - {n["name"] for n in nodes}
        if unknown:
            raise ToolError(f"ERROR: unknown node(s) {sorted(unknown)} in cluster {name}")
        if command == "load docker-image":
            if knob("FAKE_KIND_LOAD_FAILS"):
                raise ToolError("ERROR: failed to load image: ctr: content digest sha256:0: not found")
            images, built = rest[2:], state.load("docker", {})
            for image in images:
                if image not in built:
                    raise ToolError(f'ERROR: image: "{image}" not present locally')
        else:
            if knob("FAKE_KIND_ARCHIVE_FAILS"):
                raise ToolError("ERROR: failed to load image archive")
            images = json.loads(Path(rest[2]).read_text())["images"]
        for node in nodes:
            if node["name"] in wanted:
                node["images"] = sorted(set(node["images"]) | set(images))
        state.save("kind", clusters)
        return ""
    if command == "export logs":
        target = Path(rest[2])
        for node in clusters[name]["nodes"]:
            (target / node["name"]).mkdir(parents=True, exist_ok=True)
            (target / node["name"] / "kubelet.log").write_text(f"kubelet of {node['name']} (fake)\n")
        (target / "kind-version.txt").write_text(kind_main(state, ["version"]))
        return f'Exported logs for cluster "{name}" to:\n{target}\n'
    raise ToolError(f"fake kind: unsupported command: kind {' '.join(args)}", 2)


# --- docker ----------------------------------------------------------------------------------------------


def docker_main(state: State, args: list[str]) -> str:
    images = state.load("docker", {})
    if args[:1] == ["version"]:
        return os.environ.get("FAKE_DOCKER_VERSION", "28.2.2") + "\n"
    if args[:1] == ["info"]:
        if knob("FAKE_DOCKER_DOWN"):
            raise ToolError(
                "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"
            )
        return "Server Version: 28.2.2\n"
    if args[:2] == ["buildx", "version"]:
        raise ToolError("docker: 'buildx' is not a docker command.")
    if args[:1] == ["build"]:
        opts, _ = parse_flags(args[1:], {"-t": "tag", "-f": "file", "--build-arg": "arg", "--secret": "secret"})
        tag = opts["tag"]
        if tag in knob("FAKE_DOCKER_BUILD_FAILS") or "all" in knob("FAKE_DOCKER_BUILD_FAILS"):
            raise ToolError(f"ERROR: failed to build {tag}: process did not complete successfully: exit code: 1")
        # Docker's cache: the same inputs give the same image (FAKE_DOCKER_BUILD_SALT: other inputs).
        images[tag] = (
            "sha256:" + hashlib.sha256(f"{tag} {os.environ.get('FAKE_DOCKER_BUILD_SALT', '')}".encode()).hexdigest()
        )
        state.save("docker", images)
        return f"naming to docker.io/{tag} done\n"
    if args[:2] == ["image", "inspect"]:
        opts, rest = parse_flags(args[2:], {"--format": "format", "-f": "format"})
        missing = [i for i in rest if i not in images]
        if missing:
            raise ToolError(f"Error response from daemon: No such image: {missing[0]}")
        if opts.get("format") != "{{.Id}}":
            return json.dumps([{"Id": images[i], "RepoTags": [i]} for i in rest]) + "\n"
        return "".join(images[i] + "\n" for i in rest)
    if args[:2] == ["image", "ls"]:
        return "".join("1.0GB\n" for i in args[2:] if i in images)
    if args[:1] == ["save"]:
        opts, rest = parse_flags(args[1:], {"-o": "output"})
        missing = [i for i in rest if i not in images]
        if missing:
            raise ToolError(f"Error response from daemon: reference does not exist: {missing[0]}")
        Path(opts["output"]).write_text(json.dumps({"images": rest}))
        return ""
    raise ToolError(f"fake docker: unsupported command: docker {' '.join(args)}", 2)


# --- helm --------------------------------------------------------------------------------------------------

HELM_VALUE_FLAGS = ("--set", "--set-string", "--set-file", "--set-json", "-f", "--values")


def helm_main(state: State, args: list[str]) -> str:
    if args[:1] == ["version"]:
        return os.environ.get("FAKE_HELM_VERSION", "v4.1.4") + "\n"
    if args[:2] == ["show", "chart"]:
        return (resolve_chart(args[2], None, None) / "Chart.yaml").read_text()
    opts, rest = parse_flags(
        args,
        {"--kube-context": "context", "--namespace": "namespace", "-n": "namespace", "--timeout": "timeout",
         "--version": "version", "--repo": "repo"},
        switches={"--install", "--wait", "--ignore-not-found", "--atomic"},
        repeated=HELM_VALUE_FLAGS,
    )  # fmt: skip
    context = opts.get("context", "")
    cluster = Cluster(state, context.removeprefix("kind-"))
    cluster.info  # noqa: B018  (raises for an unknown context, as helm does)
    namespace = opts.get("namespace", "default")
    releases = state.load(f"releases-{cluster.name}", {})
    command = rest[0] if rest else ""
    if command == "status":
        release = releases.get(rest[1])
        if not release or release["namespace"] != namespace:
            raise ToolError("Error: release: not found")
        return f"NAME: {rest[1]}\nSTATUS: deployed\n"
    if command == "uninstall":
        for name in rest[1:]:
            release = releases.pop(name, None)
            if release is None and "--ignore-not-found" not in opts["switches"]:
                raise ToolError(f"Error: uninstall: Release not loaded: {name}: release: not found")
            kept = [o for o in (release or {}).get("objects", []) if keep_on_uninstall(o)]
            applied = state.load(f"applied-{cluster.name}", [])
            state.save(f"applied-{cluster.name}", applied + kept)
        state.save(f"releases-{cluster.name}", releases)
        return ""
    if command != "upgrade" or "--install" not in opts["switches"]:
        raise ToolError(f"fake helm: unsupported command: helm {' '.join(args)}", 2)
    name, chart = rest[1], rest[2]
    chart_dir = resolve_chart(chart, opts.get("repo"), opts.get("version"))
    kube_version = kube_version_of(cluster.info["nodes"][0]["image"])
    objects = render(name, chart_dir, namespace, opts["repeated"], kube_version)
    previous = {(o["kind"], o["metadata"]["name"]): o for o in releases.get(name, {}).get("objects", [])}
    stale = set(knob("FAKE_STALE"))
    live = [previous.get(("Deployment", o["metadata"]["name"]), o) if o["metadata"]["name"] in stale else o
            for o in objects]  # fmt: skip
    releases[name] = {"namespace": namespace, "chart": str(chart_dir), "args": args, "objects": live}
    state.save(f"releases-{cluster.name}", releases)
    if "--wait" in opts["switches"]:
        unready = set(knob("FAKE_UNREADY")) & {o["metadata"]["name"] for o in live}
        if unready:
            names = ", ".join(sorted(unready))
            raise ToolError(f"Error: UPGRADE FAILED: resource not ready: {names}: context deadline exceeded")
    return f'Release "{name}" has been upgraded.\nNAME: {name}\nNAMESPACE: {namespace}\nSTATUS: deployed\n'


def keep_on_uninstall(obj: dict) -> bool:
    return (obj["metadata"].get("annotations") or {}).get("helm.sh/resource-policy") == "keep"


def resolve_chart(chart: str, repo: str | None, version: str | None) -> Path:
    """A local chart directory, or `chart` from a repository the test made reachable (FAKE_HELM_REPOS
    url=dir ...); any other repository is unreachable, as without the internet."""
    if not repo:
        path = Path(chart)
        if not (path / "Chart.yaml").is_file():
            raise ToolError(f'Error: path "{chart}" not found')
        return path
    repos = dict(item.split("=", 1) for item in knob("FAKE_HELM_REPOS"))
    if repo not in repos:
        raise ToolError(
            f'Error: looks like "{repo}" is not a valid chart repository or cannot be reached: '
            f'Get "{repo}/index.yaml": dial tcp: lookup {repo.split("/")[2]}: no such host'
        )
    path = Path(repos[repo])
    found = yaml.safe_load((path / "Chart.yaml").read_text())
    if found["name"] != chart or (version and found["version"] != version):
        raise ToolError(f'Error: chart "{chart}" version "{version}" not found in {repo} repository')
    return path


def render(name: str, chart: Path, namespace: str, value_flags: list[tuple[str, str]], kube_version: str) -> list[dict]:
    """`helm template` with the real helm binary, validated: cached by the command and every input's content."""
    cmd = ["template", name, str(chart), "--namespace", namespace, "--kube-version", kube_version]
    for flag, value in value_flags:
        cmd += [flag, value]
    digest = hashlib.sha256(json.dumps(cmd).encode())
    for path in sorted(p for p in chart.rglob("*") if p.is_file()):
        digest.update(path.read_bytes())
    for flag, value in value_flags:
        if flag in ("-f", "--values"):
            digest.update(Path(value).read_bytes())
    cache = Path(os.environ.get("FAKE_RENDER_CACHE", Path(os.environ[STATE_ENV]) / "renders"))
    cached = cache / f"{digest.hexdigest()}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    helm = os.environ["FAKE_HELM_BIN"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(Path(helm).parent / "home")}
    proc = subprocess.run([helm, *cmd], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise ToolError(proc.stderr.strip())
    objects = [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"].setdefault("namespace", namespace)
    validate(objects, kube_version)  # once per distinct render: only valid renders are cached
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(objects))
    tmp.replace(cached)
    return objects


def validate(objects: list[dict], kube_version: str) -> None:
    """What the API server would refuse (an unknown field, a wrong type)."""
    import kubernetes_validate

    for obj in objects:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            kind, name = obj["kind"], obj["metadata"]["name"]
            raise ToolError(f"Error: {kind} {name!r} is invalid: {exc.message}") from None


# --- kubectl --------------------------------------------------------------------------------------------------


def kubectl_main(state: State, args: list[str], stdin: str) -> str:
    if args[:2] == ["version", "--client"]:
        return "Client Version: v" + os.environ.get("FAKE_KUBECTL_VERSION", "1.37.1") + "\nKustomize Version: v5.7.1\n"
    if "--" in args:
        at = args.index("--")
        args, command = args[:at], args[at + 1 :]
    else:
        command = []
    opts, rest = parse_flags(
        args,
        {"--context": "context", "-n": "namespace", "--namespace": "namespace", "-l": "labels",
         "--selector": "labels", "--field-selector": "fields", "-o": "output", "--output": "output",
         "--timeout": "timeout", "-f": "file", "--filename": "file", "--dry-run": "dry_run",
         "--from-file": "from_file"},
        switches={"-A", "--all-namespaces"},
    )  # fmt: skip
    if "context" not in opts:
        raise ToolError("fake kubectl: every call must name its --context (no other cluster may be touched)", 2)
    cluster = Cluster(state, opts["context"].removeprefix("kind-"))
    cluster.info  # noqa: B018
    namespace = None if {"-A", "--all-namespaces"} & opts["switches"] else opts.get("namespace", "default")
    verb = rest[0] if rest else ""
    if verb == "get":
        return kubectl_get(cluster, rest[1:], namespace, opts)
    if verb == "apply":
        text = stdin if opts.get("file") == "-" else Path(opts["file"]).read_text()
        applied = state.load(f"applied-{cluster.name}", [])
        out = []
        for doc in (d for d in yaml.safe_load_all(text) if d):
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"].setdefault("namespace", namespace or "default")
            applied = [o for o in applied if (o["kind"], o["metadata"]["name"], o["metadata"].get("namespace"))
                       != (doc["kind"], doc["metadata"]["name"], doc["metadata"].get("namespace"))] + [doc]  # fmt: skip
            out.append(f"{doc['kind'].lower()}/{doc['metadata']['name']} configured\n")
        state.save(f"applied-{cluster.name}", applied)
        return "".join(out)
    if verb == "rollout":
        return kubectl_rollout(cluster, rest[1:], namespace, opts)
    if verb == "exec":
        return kubectl_exec(cluster, rest[1], namespace, command)
    if verb == "port-forward":
        return kubectl_port_forward(cluster, rest[1], namespace, rest[2:])
    if verb == "describe":
        kind = ALIASES.get(rest[1], rest[1])
        found = cluster.select(kind, namespace, rest[2] if len(rest) > 2 else None, opts.get("labels", ""), "")
        if not found:
            raise ToolError(f'Error from server (NotFound): {rest[1]} "{rest[2] if len(rest) > 2 else ""}" not found')
        return "\n".join(describe(o) for o in found)
    if verb == "create" and rest[1:3] == ["secret", "generic"] and opts.get("dry_run") == "client":
        key, path = opts["from_file"].split("=", 1)
        data = stdin.encode() if path == "/dev/stdin" else Path(path).read_bytes()
        import base64

        secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": rest[3], "namespace": namespace},
                  "data": {key: base64.b64encode(data).decode()}}  # fmt: skip
        return yaml.safe_dump(secret)
    raise ToolError(f"fake kubectl: unsupported command: kubectl {' '.join(args)}", 2)


def kubectl_get(cluster: Cluster, rest: list[str], namespace: str | None, opts: dict) -> str:
    kind = ALIASES.get(rest[0])
    if kind is None:
        raise ToolError(f'error: the server doesn\'t have a resource type "{rest[0]}"')
    name = rest[1] if len(rest) > 1 else None
    found = cluster.select(kind, namespace, name, opts.get("labels", ""), opts.get("fields", ""))
    if name and not found:
        raise ToolError(f'Error from server (NotFound): {rest[0]} "{name}" not found')
    output = opts.get("output", "")
    if output.startswith("jsonpath="):
        data = found[0] if name else {"apiVersion": "v1", "kind": "List", "items": found}
        return jsonpath(output[len("jsonpath=") :], data)
    if output == "name":
        return "".join(f"{kind.lower()}/{o['metadata']['name']}\n" for o in found)
    if output in ("yaml", "json"):
        data = found[0] if name else {"apiVersion": "v1", "kind": "List", "items": found}
        return yaml.safe_dump(data) if output == "yaml" else json.dumps(data, indent=2)
    if output == "wide" or not output:
        if not found:
            where = f" in {namespace} namespace" if namespace else ""
            sys.stderr.write(f"No resources found{where}.\n")
            return ""
        return "NAME\n" + "".join(f"{o['metadata']['name']}\n" for o in found)
    raise ToolError(f"fake kubectl: unsupported output {output}", 2)


def kubectl_rollout(cluster: Cluster, rest: list[str], namespace: str | None, opts: dict) -> str:
    action, kind = rest[0], ALIASES.get(rest[1], rest[1])
    name = rest[2] if len(rest) > 2 else None
    found = cluster.select(kind, namespace, name, opts.get("labels", ""), "")
    if not found:
        raise ToolError("error: no objects passed to rollout")
    if action == "restart":
        return "".join(f"{kind.lower()}.apps/{o['metadata']['name']} restarted\n" for o in found)
    if action != "status":
        raise ToolError(f"fake kubectl: unsupported rollout {action}", 2)
    out = []
    unready = set(knob("FAKE_UNREADY"))
    for obj in found:
        if obj["metadata"]["name"] in unready:
            sys.stdout.write("".join(out))
            raise ToolError("error: timed out waiting for the condition")
        out.append(f'deployment "{obj["metadata"]["name"]}" successfully rolled out\n')
    return "".join(out)


def kubectl_exec(cluster: Cluster, target: str, namespace: str | None, command: list[str]) -> str:
    kind, _, name = target.partition("/")
    (workload,) = cluster.select(ALIASES.get(kind, kind), namespace, name, "", "") or [None]
    if workload is None:
        raise ToolError(f'Error from server (NotFound): {kind}s.apps "{name}" not found')
    # A file the component writes where its rendered airflow.cfg says (FAKE_POD_FILES: the content,
    # e.g. what a real `airflow api-server` generated); any other path does not exist in the pod.
    configured = set()
    for obj in cluster.select("ConfigMap", namespace, None, "", ""):
        if "airflow.cfg" in (obj.get("data") or {}):
            configured |= set(re.findall(r"^\w+_file = (\S+)$", obj["data"]["airflow.cfg"], re.M))
    files = json.loads(os.environ.get("FAKE_POD_FILES", "{}"))
    if command[:1] == ["cat"] and command[1] in configured and f"{namespace}/{name}" in files:
        return Path(files[f"{namespace}/{name}"]).read_text()
    raise ToolError(f"cat: {' '.join(command[1:])}: No such file or directory", 1)


def kubectl_port_forward(cluster: Cluster, target: str, namespace: str | None, ports: list[str]) -> str:
    """Listens on each local port for real (a port in use fails as kubectl does) and, where the test
    maps the service port to a local server (FAKE_SERVICE_ENDPOINTS ns/svc:port=host:port ...),
    forwards connections to it; runs until stopped."""
    import socket
    import threading

    kind, _, name = target.partition("/")
    (service,) = cluster.select(ALIASES.get(kind, kind), namespace, name, "", "") or [None]
    if service is None:
        raise ToolError(f'Error from server (NotFound): services "{name}" not found')
    endpoints = dict(item.split("=", 1) for item in knob("FAKE_SERVICE_ENDPOINTS"))
    listeners = []
    for pair in ports:
        local, _, remote = pair.partition(":")
        if int(remote) not in {p["port"] for p in service["spec"]["ports"]}:
            raise ToolError(f"error: Service {name} does not have a service port {remote}")
        sock = socket.socket()
        try:
            sock.bind(("127.0.0.1", int(local)))
        except OSError as exc:
            raise ToolError(
                f"Unable to listen on port {local}: {exc}\nerror: unable to listen on any of the requested ports"
            ) from None
        sock.listen()
        listeners.append((sock, endpoints.get(f"{namespace}/{name}:{remote}")))
        sys.stdout.write(f"Forwarding from 127.0.0.1:{local} -> {remote}\n")
    sys.stdout.flush()

    def pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)

    def serve(sock: socket.socket, upstream: str | None) -> None:
        while True:
            conn, _ = sock.accept()
            if upstream is None:
                conn.close()
                continue
            host, _, port = upstream.rpartition(":")
            remote = socket.create_connection((host, int(port)))
            threading.Thread(target=pipe, args=(conn, remote), daemon=True).start()
            threading.Thread(target=pipe, args=(remote, conn), daemon=True).start()

    threads = [threading.Thread(target=serve, args=pair, daemon=True) for pair in listeners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ""


def describe(obj: dict) -> str:
    meta, status = obj["metadata"], obj.get("status", {})
    lines = [f"Name:         {meta['name']}", f"Namespace:    {meta.get('namespace', '')}",
             f"Labels:       {','.join(f'{k}={v}' for k, v in (meta.get('labels') or {}).items())}",
             f"Status:       {status.get('phase', '')}", "Containers:"]  # fmt: skip
    for container in obj.get("spec", {}).get("containers", []):
        lines += [f"  {container['name']}:", f"    Image:  {container['image']}"]
    for cs in status.get("containerStatuses", []):
        lines.append(f"  {cs['name']} ready: {str(cs['ready']).lower()} {json.dumps(cs['state'])}")
    return "\n".join(lines) + "\n"


# --- argument parsing -----------------------------------------------------------------------------------------


def parse_flags(
    args: list[str], valued: dict[str, str], switches: set[str] = frozenset(), repeated: tuple[str, ...] = ()
) -> tuple[dict, list[str]]:
    """--flag value / --flag=value / -x value; repeated flags keep their order (helm's values)."""
    opts: dict[str, Any] = {"switches": set(), "repeated": []}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if flag in repeated:
            value = inline if eq else args[i + 1]
            opts["repeated"].append((flag, value))
            i += 1 if eq else 2
        elif flag in valued:
            opts[valued[flag]] = inline if eq else args[i + 1]
            i += 1 if eq else 2
        elif arg in switches:
            opts["switches"].add(arg)
            i += 1
        elif arg.startswith("-") and arg != "-":
            raise ToolError(f"fake: unknown flag {arg} (add it to the fake if the real tool has it)", 2)
        else:
            rest.append(arg)
            i += 1
    return opts, rest


# --- entry point ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    import fcntl

    with (state_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    state = State(Path(os.environ[STATE_ENV]))
    state.log(shlex.join([tool, *args]))
    # Read before taking the lock: the writer of a pipe into us may be a fake tool waiting for it.
    reads_stdin = tool == "kubectl" and ("-" in args or any(a.endswith("=/dev/stdin") for a in args))
    stdin = sys.stdin.read() if reads_stdin else ""
    try:
        with contextlib.nullcontext() if "port-forward" in args else locked(state.root):
            if tool == "kubectl":
                out = kubectl_main(state, args, stdin)
            elif tool == "helm":
                out = helm_main(state, args)
            elif tool == "kind":
                out = kind_main(state, args)
            elif tool == "docker":
                out = docker_main(state, args)
            else:
                raise ToolError(f"fake: no tool {tool}", 2)
    except ToolError as exc:
        sys.stderr.write(f"{exc}\n")
        return exc.status
    sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# --- the test side: a checkout's make targets against the fake --------------------------------------------------


@dataclass
class FakeClusterRun:
    """Runs the real top-level Makefile's targets (and the scripts) with the fake tools first on PATH,
    against a real local git repository that git-sync would clone (file://, branch main)."""

    root: Path  # the checkout whose Makefile runs
    bin_dir: Path
    state: Path
    repo_url: str
    # Chart repositories the fake can reach by default (url=dir): the user's online case.
    online_repos: str = ""

    @classmethod
    def create(cls, root: Path, tmp: Path, helm: Path, render_cache: Path, online_repos: str = "") -> FakeClusterRun:
        repo = tmp / "dags.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(repo)], check=True)
        work = tmp / "dags-work"
        subprocess.run(["git", "clone", "-q", str(repo), str(work)], check=True, capture_output=True)
        (work / "README").write_text("dags\n")
        git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@example.com"]
        subprocess.run([*git, "add", "README"], check=True)
        subprocess.run([*git, "commit", "-q", "-m", "dags"], check=True)
        subprocess.run([*git, "push", "-q", "origin", "HEAD:main"], check=True, capture_output=True)
        run = cls(root, tmp / "bin", tmp / "state", f"file://{repo}", online_repos)
        install(run.bin_dir, run.state, helm, FAKE_RENDER_CACHE=str(render_cache))
        return run

    def env(self, **knobs: str) -> dict[str, str]:
        path = f"{self.bin_dir}:{os.environ['PATH']}"
        keep = {k: v for k, v in os.environ.items() if k in ("LANG", "TMPDIR")}
        return {
            **keep,
            "PATH": path,
            "HOME": str(self.state),
            "LC_ALL": "C",
            "FAKE_HELM_REPOS": self.online_repos,
            **knobs,
        }

    def make(
        self, target: str, *make_vars: str, makefile: str = "Makefile", timeout: float = 300, **knobs: str
    ) -> subprocess.CompletedProcess:
        cmd = [shutil.which("make") or "make", "-f", str(self.root / makefile), "--no-print-directory", target,
               "DOCKER=docker", f"GIT_REPO={self.repo_url}", "GIT_BRANCH=main", *make_vars]  # fmt: skip
        env = self.env(**knobs)
        return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=self.root, timeout=timeout)

    def add_release(self, name: str, namespace: str, objects: list[dict] | None = None) -> None:
        """A release installed from elsewhere (a chart this machine cannot fetch)."""
        state = State(self.state)
        releases = state.load("releases-starlink42k", {})
        releases[name] = {
            "namespace": namespace,
            "chart": "(installed elsewhere)",
            "args": [],
            "objects": objects or [],
        }
        state.save("releases-starlink42k", releases)

    def calls(self, since: int = 0) -> list[str]:
        log = self.state / "calls.log"
        return log.read_text().splitlines()[since:] if log.exists() else []

    def objects(self, cluster: str = "starlink42k") -> list[dict]:
        return Cluster(State(self.state), cluster).stored_objects()

    def nodes(self, cluster: str = "starlink42k") -> list[dict]:
        return State(self.state).load("kind", {})[cluster]["nodes"]

    def images(self) -> dict[str, str]:
        return State(self.state).load("docker", {})
