#!/usr/bin/env bash
# The one tag of the project's images (pipeline, dbt, airflow): a hash of everything the builds copy
# (the files .dockerignore lets into the context, as they are in the working tree). Any change to
# the code, the dbt project, the lock or a Dockerfile gives a new tag, so `kind load` never leaves a
# node on an old image behind a reused tag, and the same content always gives the same tag.
# Files git ignores (dbt/target, caches) are not part of it. Prints the tag, e.g. c1a2b3c4d5e6.
# Stock macOS tools only (bash 3.2, BSD userland): `shasum -a 256` where GNU's sha256sum is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=(pyproject.toml uv.lock README.md src dbt images airflow/plugins)
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "images/tag.sh: not a git checkout; set IMAGE_TAG=<tag> yourself" >&2
  exit 1
fi
# Both print "<hash>  <file>", so the tag is the same on either.
if command -v sha256sum >/dev/null 2>&1 && sha256sum </dev/null >/dev/null 2>&1; then
  sha256=(sha256sum)
elif command -v shasum >/dev/null 2>&1; then
  sha256=(shasum -a 256)
else
  echo "images/tag.sh: neither sha256sum nor shasum found: install coreutils (or perl's shasum), or set IMAGE_TAG=<tag>" >&2
  exit 1
fi
git ls-files -z --cached --others --exclude-standard -- "${inputs[@]}" \
  | LC_ALL=C sort -z -u \
  | while IFS= read -r -d '' file; do
      # a file deleted but still in the index has no content: it is simply not an input
      [ -f "$file" ] && printf '%s\0' "$file"
    done \
  | xargs -0 "${sha256[@]}" \
  | "${sha256[@]}" \
  | cut -c1-12
