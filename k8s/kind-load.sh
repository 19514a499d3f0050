#!/usr/bin/env bash
# Copies the project's images into the kind cluster's nodes that run pods (there is no registry):
# `kind load docker-image`, and when that fails, `docker save` + `kind load image-archive`.
#
# Which nodes: kind taints its control-plane nodes when the cluster has workers, so no pod runs
# there and a copy of 3 images (about 2 GB) would only cost disk. A single-node cluster's control
# plane runs the pods, and gets them.
#
# Why the fallback: with Docker's containerd image store, or images that carry provenance/SBOM
# attestations (buildx's default), `kind load docker-image` fails with "content digest ... not
# found". The builds here add no attestations (images/images.mk), but an image built elsewhere may;
# an archive of the image's own layers loads either way.
#
#   k8s/kind-load.sh <cluster> <image>...
set -euo pipefail
cluster=$1; shift
all_nodes=$(kind get nodes --name "$cluster")
workers=$(printf '%s\n' "$all_nodes" | grep -v -e '-control-plane[0-9]*$' || true)
nodes=$(printf '%s\n' "${workers:-$all_nodes}" | paste -s -d , -)
echo "    into node(s) $nodes"
if kind load docker-image --name "$cluster" --nodes "$nodes" "$@"; then
  echo "    loaded with kind load docker-image"
  exit 0
fi
echo "    kind load docker-image failed (Docker's containerd image store or attestations?); trying docker save + kind load image-archive" >&2
# A directory: BSD mktemp (macOS) replaces only trailing X's, so no suffix after them.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/starlink42k-images.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
if docker save -o "$scratch/images.tar" "$@" && kind load image-archive --name "$cluster" --nodes "$nodes" "$scratch/images.tar"; then
  echo "    loaded with docker save + kind load image-archive"
  exit 0
fi
cat >&2 <<MSG
Could not copy the images into kind cluster '$cluster', neither with 'kind load docker-image'
nor with 'docker save' + 'kind load image-archive'. Check that the images exist
('docker image ls starlink42k/*') and that the cluster runs ('kind get clusters'). With Docker
Desktop's containerd image store, turn it off (Settings > General) or upgrade kind.
MSG
exit 1
