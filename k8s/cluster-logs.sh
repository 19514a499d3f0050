#!/usr/bin/env bash
# After a failed `make cluster-up` or `make e2e`: what a user (or CI, which uploads the folder) needs
# to see why. kind's logs (every node's kubelet and containerd, every pod's logs), the pods of every
# namespace, and `kubectl describe` (with its events) of each pod that is not ready.
#
#   k8s/cluster-logs.sh <cluster> <folder>
# Stock macOS tools only (bash 3.2, BSD userland); never fails: it runs after a failure already.
set -u
cluster=$1 dir=$2
context=kind-$cluster
rm -rf "$dir"
mkdir -p "$dir"
if kind export logs "$dir/kind" --name "$cluster" >/dev/null 2>&1; then
  kind_logs="kind logs in kind/"
else
  kind_logs="no kind logs (is there a cluster '$cluster'? kind get clusters)"
fi
unready=0
if kubectl --context "$context" get pods -A -o wide >"$dir/pods.txt" 2>&1; then
  # namespace, name, phase and the containers' ready flags; a pod is fine when it completed, or
  # runs with every container ready.
  pods=$(kubectl --context "$context" get pods -A -o \
    jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name} {.status.phase} {.status.containerStatuses[*].ready}{"\n"}{end}' 2>/dev/null)
  while read -r namespace name phase ready; do
    [ -n "$name" ] || continue
    [ "$phase" = Succeeded ] && continue
    if [ "$phase" = Running ] && [ -n "$ready" ]; then
      case " $ready " in *" false "*) ;; *) continue ;; esac
    fi
    kubectl --context "$context" -n "$namespace" describe pod "$name" >"$dir/describe-$namespace-$name.txt" 2>&1
    unready=$((unready + 1))
  done <<EOF_PODS
$pods
EOF_PODS
fi
echo "The cluster's logs are in $dir: $kind_logs, pods.txt, and kubectl describe of the $unready pod(s) not ready (describe-<namespace>-<pod>.txt)"
exit 0
