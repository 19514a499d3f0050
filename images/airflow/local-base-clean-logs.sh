#!/usr/bin/env bash
# /clean-logs of the stand-in for the official Airflow image (local-base.Dockerfile): the loop the
# Airflow chart's log-groomer sidecars run (`bash /clean-logs`), with the settings the chart passes:
#   AIRFLOW_HOME                             logs are under $AIRFLOW_HOME/logs
#   AIRFLOW__LOG_RETENTION_DAYS (15)         + AIRFLOW__LOG_RETENTION_MINUTES (0): age of a *.log
#                                            file that gets deleted
#   AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES   (15) how often
# Empty folders left behind are removed too.
set -euo pipefail

logs="${AIRFLOW_HOME:-/opt/airflow}/logs"
days="${AIRFLOW__LOG_RETENTION_DAYS:-15}"
minutes="${AIRFLOW__LOG_RETENTION_MINUTES:-0}"
every="${AIRFLOW__LOG_CLEANUP_FREQUENCY_MINUTES:-15}"
retention=$(( ${days#-} * 24 * 60 + ${minutes#-} ))

trap 'exit 0' INT TERM

echo "Cleaning logs every ${every} minutes: *.log files older than ${retention} minutes in ${logs}"
while true; do
  find "${logs}" -type d -name 'lost+found' -prune -o -type f -name '*.log' -mmin "+${retention}" -print0 \
    | xargs -0 --no-run-if-empty rm -f || true
  find "${logs}" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  # sleep in the background so that TERM ends the loop at once
  sleep "$(( every * 60 ))" &
  wait $!
done
