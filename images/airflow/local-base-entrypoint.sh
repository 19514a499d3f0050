#!/usr/bin/env bash
# /entrypoint of the stand-in for the official Airflow image (local-base.Dockerfile): the parts of
# the official image's entrypoint (apache/airflow scripts/docker/entrypoint_prod.sh) that this
# project's image and the Airflow chart rely on, with the same semantics:
#   IMAGE airflow <cmd> | IMAGE <cmd>     -> exec airflow <cmd>
#   IMAGE bash ... | IMAGE python ...     -> exec bash ... / python ...
#   the group must be 0 (uid 50000 with another group only warns; any other uid fails)
#   an arbitrary uid gets a passwd entry (when /etc/passwd is writable) and HOME=/home/airflow
#   CONNECTION_CHECK_MAX_COUNT (default 20, 0 disables): `airflow db check` with retries first,
#     also before `bash` and `python` (the chart's probes set it to 0)
#   _AIRFLOW_DB_MIGRATE: `airflow db migrate` first
# dumb-init runs it as PID 1 (the image's ENTRYPOINT). Not reproduced: the Celery broker wait, the
# web user creation and _PIP_ADDITIONAL_REQUIREMENTS.
AIRFLOW_COMMAND="${1:-}"

set -euo pipefail

if [[ $(id -g) != "0" ]]; then
  if [[ $(id -u) == "50000" ]]; then
    echo "WARNING! Run the image with GID 0 (started with UID=$(id -u) GID=$(id -g))" >&2
  else
    echo "ERROR! Run the image with GID 0, whatever the UID (started with UID=$(id -u) GID=$(id -g))" >&2
    exit 1
  fi
fi

unset PIP_USER
umask 0002

CONNECTION_CHECK_MAX_COUNT=${CONNECTION_CHECK_MAX_COUNT:=20}
CONNECTION_CHECK_SLEEP_TIME=${CONNECTION_CHECK_SLEEP_TIME:=3}

# An arbitrary uid (OpenShift style) still finds the packages and a home.
if ! whoami &>/dev/null; then
  if [[ -w /etc/passwd ]]; then
    echo "${USER_NAME:-default}:x:$(id -u):0:${USER_NAME:-default} user:${AIRFLOW_USER_HOME_DIR}:/sbin/nologin" >>/etc/passwd
  fi
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
