#!/usr/bin/env bash
# Readies Docker on a machine with no image registry (CI here, air-gapped hosts): installs Debian's
# docker.io when no engine is installed, starts dockerd when none answers, and builds a Python base
# image from Debian's own packages with debootstrap (no `docker pull`). Idempotent.
# Prints the base image's name on its last line. Needs root (apt, dockerd, debootstrap).
#
#   BASE_IMAGE_NAME=local/python:3.11-bookworm images/local-engine.sh
set -euo pipefail

image=${BASE_IMAGE_NAME:-local/python:3.11-bookworm}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
docker=/usr/bin/docker  # Debian's client, with BuildKit for --secret builds
log_dir=${TMPDIR:-/tmp}

apt_install() {
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! "$docker" info >/dev/null 2>&1; then
  command -v dockerd >/dev/null && [ -x "$docker" ] || { echo "installing docker.io from Debian" >&2; apt_install docker.io; }
  echo "starting dockerd (log: $log_dir/starlink42k-dockerd.log)" >&2
  nohup dockerd >"$log_dir/starlink42k-dockerd.log" 2>&1 &
  for _ in $(seq 120); do "$docker" info >/dev/null 2>&1 && break; sleep 0.5; done
  "$docker" info >/dev/null 2>&1 || { echo "dockerd did not start: see $log_dir/starlink42k-dockerd.log" >&2; exit 1; }
fi

if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || { echo "installing debootstrap from Debian" >&2; apt_install debootstrap; }
  rootfs=$(mktemp -d "$log_dir/starlink42k-rootfs.XXXXXX")
  trap 'rm -rf "$rootfs"' EXIT
  echo "building $image from Debian $suite packages (about a minute)" >&2
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    "$suite" "$rootfs" "$mirror" >"$log_dir/starlink42k-debootstrap.log" 2>&1 \
    || { echo "debootstrap failed: see $log_dir/starlink42k-debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | "$docker" import -c 'ENV LANG=C.UTF-8' -c 'CMD ["python3"]' - "$image" >/dev/null
fi
echo "$image"
