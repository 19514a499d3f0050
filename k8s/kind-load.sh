#!/usr/bin/env bash
# Copies the project's images into the kind cluster's nodes (there is no registry): `kind load
# docker-image`, and when that fails, `docker save` + `kind load image-archive`.
#
# Why the fallback: with Docker's containerd image store, or images that carry provenance/SBOM
# attestations (buildx's default), `kind load docker-image` fails with "content digest ... not
# found". The builds here add no attestations (images/images.mk), but an image built elsewhere may;
# an archive of the image's own layers loads either way.
#
#   k8s/kind-load.sh <cluster> <image>...
set -euo pipefail
cluster=$1; shift
if kind load docker-image --name "$cluster" "$@"; then
  echo "    loaded with kind load docker-image"
  exit 0
fi
echo "    kind load docker-image failed (Docker's containerd image store or attestations?); trying docker save + kind load image-archive" >&2
archive=$(mktemp "${TMPDIR:-/tmp}/starlink42k-images.XXXXXX.tar")
trap 'rm -f "$archive"' EXIT
if docker save -o "$archive" "$@" && kind load image-archive --name "$cluster" "$archive"; then
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
