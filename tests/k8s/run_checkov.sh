#!/usr/bin/env bash
# Security scan with checkov of what the project deploys and builds: the rendered
# starlink-platform chart, the manifests in k8s/ and the Dockerfiles under images/.
# Exits non-zero on any finding that is not skipped with a reason, either in .checkov.yaml
# or by a `checkov.io/skip<N>` annotation on the object itself.
#
# checkov has its own locked environment (it conflicts with uv.lock):
#   python3 -m venv .venv-checkov
#   .venv-checkov/bin/pip install --require-hashes -r requirements/checkov.txt
# Usage: tests/k8s/run_checkov.sh   (CHECKOV=... and HELM=... override the tools used)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
checkov=${CHECKOV:-$root/.venv-checkov/bin/checkov}
helm=${HELM:-helm}

if [[ ! -x $checkov ]]; then
  echo "checkov not found at $checkov; create .venv-checkov (see the header of $0)" >&2
  exit 2
fi

# One directory holding everything, scanned in one run (one report).
scan=$(mktemp -d)
trap 'rm -rf "$scan"' EXIT
mkdir -p "$scan/chart" "$scan/k8s"
"$helm" template starlink "$root/charts/starlink-platform" --namespace starlink \
  > "$scan/chart/starlink-platform.rendered.yaml"
# With `make observability`'s objects too (postgres_exporter, the read-only role's Job, ...).
"$helm" template starlink "$root/charts/starlink-platform" --namespace starlink --set observability.enabled=true \
  > "$scan/chart/starlink-platform-observability.rendered.yaml"
cp "$root"/k8s/*.yaml "$scan/k8s/"
while IFS= read -r -d '' dockerfile; do
  rel=${dockerfile#"$root"/}
  mkdir -p "$scan/$(dirname "$rel")"
  cp "$dockerfile" "$scan/$rel"
done < <(find "$root/images" -name Dockerfile -type f -print0 2>/dev/null)

cd "$root"
exec "$checkov" --config-file "$root/.checkov.yaml" --directory "$scan"
