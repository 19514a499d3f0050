#!/usr/bin/env bash
# /entrypoint of the stand-in for the official Airflow image (local-base.Dockerfile): the parts of
# the official image's entrypoint (apache/airflow scripts/docker/entrypoint_prod.sh) that this
# project's image and the Airflow chart rely on, with the same semantics:
#   IMAGE airflow <cmd> | IMAGE <cmd>     -> exec airflow <cmd>
#   IMAGE bash ... | IMAGE python ...     -> exec bash ... / python ...
#   CONNECTION_CHECK_MAX_COUNT (default 20, 0 disables): `airflow db check` with retries first
#   _AIRFLOW_DB_MIGRATE: `airflow db migrate` first
# Not reproduced: dumb-init as PID 1 (use `docker run --init`), the Celery broker wait, the web
# user creation and _PIP_ADDITIONAL_REQUIREMENTS.
AIRFLOW_COMMAND="${1:-}"

set -euo pipefail

unset PIP_USER
umask 0002

CONNECTION_CHECK_MAX_COUNT=${CONNECTION_CHECK_MAX_COUNT:=20}
CONNECTION_CHECK_SLEEP_TIME=${CONNECTION_CHECK_SLEEP_TIME:=3}

# An arbitrary uid (OpenShift style) still finds the packages and a home.
if ! whoami &>/dev/null; then
  export HOME="${AIRFLOW_USER_HOME_DIR}"
fi

if [[ "${CONNECTION_CHECK_MAX_COUNT}" -gt 0 ]]; then
  countdown=${CONNECTION_CHECK_MAX_COUNT}
  until last=$(airflow db check 2>&1); do
    countdown=$((countdown - 1))
    if [[ ${countdown} -le 0 ]]; then
      echo "ERROR! Maximum number of retries (${CONNECTION_CHECK_MAX_COUNT}) reached." >&2
      echo "Last check result: ${last}" >&2
      exit 1
    fi
    sleep "${CONNECTION_CHECK_SLEEP_TIME}"
  done
fi

if [[ -n "${_AIRFLOW_DB_MIGRATE:-}" ]]; then
  airflow db migrate || true
fi

if [[ ${AIRFLOW_COMMAND} == "bash" ]]; then
  shift
  exec /bin/bash "$@"
elif [[ ${AIRFLOW_COMMAND} == "python" ]]; then
  shift
  exec python "$@"
fi

if [[ ${AIRFLOW_COMMAND} == "airflow" ]]; then
  shift
fi

exec airflow "$@"
